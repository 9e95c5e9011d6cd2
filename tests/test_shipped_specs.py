"""The specs shipped in specs/ (marshmallow, SWE-Gym's eleven repositories) pass `swegc check`
without the repositories they name, and serve the versions SWE-Gym built environments for."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swegc.compiler.spec.loader import load_specs

SPECS = Path(__file__).resolve().parent.parent / "specs"

# The versions SWE-Gym's harness constants (its fork of SWE-bench's MAP_REPO_VERSION_TO_SPECS)
# have an entry for, per repository.
SWE_GYM_VERSIONS = {
    "facebookresearch/hydra": "0.1 0.9 0.10 0.11 0.12 1.0 1.1 1.2 1.3 1.4",
    "conan-io/conan": "1.33 1.34 1.35 1.36 1.37 1.38 1.39 1.40 1.41 1.42 1.43 1.44 1.45 1.46 1.47 "
                      "1.48 1.49 1.50 1.51 1.52 1.53 1.54 1.55 1.57 1.58 1.59 1.60 1.61 1.62 "
                      "2.0 2.1 2.2 2.3 2.4",
    "pydantic/pydantic": "0.2 0.4 0.6 0.9 0.10 0.11 0.13 0.14 0.15 0.17 0.18 0.20 0.24 0.27 "
                         "0.29 0.32 1.4 1.5 1.6 1.7 1.8 1.9 1.10 2.0 2.4 2.5 2.6 2.7",
    "iterative/dvc": "0.1 0.8 0.35 0.93 1.0 1.11 2.0 2.58 3.0 3.3 3.4 3.49",
    "getmoto/moto": "0.4 1.0 1.2 1.3 2.0 2.1 2.2 2.3 3.0 3.1 4.0 4.1 4.2 5.0",
    "python/mypy": "0.800 0.810 0.820 0.910 0.920 0.940 0.950 0.960 0.970 0.980 0.990 1.0 1.1 "
                   "1.2 1.3 1.4 1.5 1.6 1.7 1.8 1.9 1.10 1.11",
    "dask/dask": "2.11 2.30 2020.12 2021.1 2022.6 2023.1 2023.12 2024.5",
    "Project-MONAI/MONAI": "0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 0.11 1.0 1.1 1.2 1.3",
    "bokeh/bokeh": "0.4 0.13 1.0 1.4 2.0 2.1 2.3 2.4 3.0 3.3 3.4 3.5",
    "modin-project/modin": "0.1 0.8 0.19 0.20 0.25 0.30",
    "pandas-dev/pandas": "0.16 0.25 1.0 1.5 2.0 2.1 2.2 3.0",
}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The specs loaded from a copy of specs/ with no clones/ beside it, as on CI."""
    copy = tmp_path_factory.mktemp("checkout") / "specs"
    shutil.copytree(SPECS, copy)
    assert not (copy.parent / "clones").exists()
    return {spec.repo: spec for spec in load_specs([copy])}


def test_swegc_check_passes_on_every_shipped_spec_without_the_repositories(tmp_path: Path) -> None:
    shutil.copytree(SPECS, tmp_path / "specs")
    result = subprocess.run([sys.executable, "-m", "swegc.cli", "check", "--without-clones",
                             "specs"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(list(SPECS.glob('[!_]*.yaml')))} specs checked, no problems" in result.stdout
    # Without the flag, each missing clone is a problem with its file and line.
    result = subprocess.run([sys.executable, "-m", "swegc.cli", "check", "specs"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1
    assert "specs/marshmallow-code__marshmallow.yaml:12: source.clone: " in result.stderr


def test_there_is_one_spec_for_each_of_swe_gyms_eleven_repositories(shipped: dict) -> None:
    assert set(SWE_GYM_VERSIONS) <= set(shipped)
    assert len(SWE_GYM_VERSIONS) == 11


@pytest.mark.parametrize("repo", sorted(SWE_GYM_VERSIONS))
def test_every_version_swe_gym_built_an_env_for_is_served_by_one_environment(
        shipped: dict, repo: str) -> None:
    spec = shipped[repo]
    for version in SWE_GYM_VERSIONS[repo].split():
        serving = [env for env in spec.environments if env.covers(version)]
        assert len(serving) == 1, f"{repo} {version}: served by {len(serving)} environments"


def test_mypy_before_0900_gets_typeshed_from_its_submodule_clone(shipped: dict) -> None:
    spec = shipped["python/mypy"]
    assert spec.environment_for("0.800") is not None
    assert set(spec.source.submodules) == {"mypy/typeshed"}


def test_swe_gym_specs_share_their_defaults_through_one_partial(shipped: dict) -> None:
    for repo in SWE_GYM_VERSIONS:
        spec = shipped[repo]
        assert spec.source.filters.require_linked_issue, repo
        assert spec.tests.runs == 2 and spec.tests.parser == "pytest", repo
        assert spec.where("build.base_images").startswith(str(spec.path.parent / "_swegym.yaml"))


def test_monai_takes_torch_from_the_cpu_index_in_every_environment(shipped: dict) -> None:
    """PyPI's Linux torch carries CUDA (a 4.25 GB env for torch 1.13 on real history)."""
    for env in shipped["Project-MONAI/MONAI"].environments:
        assert [(i.url, i.packages) for i in env.indexes] == [
            ("https://download.pytorch.org/whl/cpu", ("torch", "torchvision"))]
        assert not any("--extra-index-url" in line for line in env.install)
        assert "indexes" in env.image_inputs()  # a changed index is a new env image
