"""What a new user's first-try specs met (issue 19, "Installs"): a setup.cfg-only project on an
old setuptools, the venv's own old setuptools, a commit date older than the environment's
Python, a failed environment whose date came from an instance not selected, and a package held
back by a dependency whose every release was re-uploaded later. Each is handled, or said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from conftest import GIT_ENV, GitBuilder
from index_fixtures import Release, serve_index
from swegc.git import GitRepo
from swegc.images.builder import BuildFailed, EnvRecipe, ImageBuilder, InstanceRecipe
from swegc.images.network import BuildNetwork
from swegc.images.python_releases import moved_date
from swegc.images.resolution_lag import IndexReader, find_lags
from swegc.runtime.sandbox.docker_exec import DockerExecSandbox as Sandbox

RELEASES = [
    # pytest and atomicwrites as they are on PyPI: the runner's releases from 3.6 on need a
    # package whose every release was re-uploaded years later, and the index serves no
    # separate metadata for these old wheels (PEP 658): it is read from the wheel itself.
    Release("swegc-ft-runner", "3.5", "2018-04-01T00:00:00Z", metadata_file=False),
    Release("swegc-ft-runner", "3.6", "2018-05-23T00:00:00Z", metadata_file=False,
            requires=("swegc-ft-atomic>=1.0",)),
    Release("swegc-ft-runner", "5.1", "2019-08-01T00:00:00Z", metadata_file=False,
            requires=("swegc-ft-atomic>=1.0", "swegc-ft-plug>=0.12")),
    Release("swegc-ft-atomic", "1.0", "2024-03-01T00:00:00Z"),
    Release("swegc-ft-plug", "0.9", "2018-01-01T00:00:00Z"),
    Release("swegc-ft-plug", "0.12", "2019-06-01T00:00:00Z"),
    # A package first released after Python 3.11 came out, and once more much later.
    Release("swegc-ft-dated", "1.0", "2023-01-01T00:00:00Z"),
    Release("swegc-ft-dated", "2.0", "2025-01-01T00:00:00Z"),
    # A newer release for a newer Python only: no lag on the Python the env has.
    Release("swegc-ft-newpy", "1.0", "2018-01-01T00:00:00Z"),
    Release("swegc-ft-newpy", "2.0", "2019-01-01T00:00:00Z", requires_python=">=3.12"),
]


@pytest.fixture(scope="module")
def index():
    served, server = serve_index(RELEASES)
    yield served
    server.shutdown()


def _commit_on(g: GitBuilder, date: str, message: str, files: dict[str, str]) -> str:
    g.write(files)
    g.git("add", "-A")
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=g.path, check=True,
                   env={**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": date,
                        "GIT_COMMITTER_DATE": date})
    return g.git("rev-parse", "HEAD")


def test_a_held_back_package_names_the_requirement_that_held_it(index):
    reader = IndexReader([index.url])
    date = "2019-08-20T00:00:00Z"
    # Requirements read from the wheels (no metadata file), as PyPI's old pytest wheels are.
    lags = find_lags(["swegc-ft-runner==3.5", "swegc-ft-newpy==1.0"], date, reader,
                     python="3.11")
    assert [(lag.package, lag.available) for lag in lags] == [("swegc-ft-runner", "5.1")]
    message = lags[0].message(date)
    assert "it needs swegc-ft-atomic (first upload 2024-03-01)" in message
    assert "add pip_date_exempt: [swegc-ft-atomic]" in message
    # Exempted, the dependency is there: what holds the runner now is another package's pin.
    later = "2024-06-01T00:00:00Z"
    lags = find_lags(["swegc-ft-runner==3.5", "swegc-ft-plug==0.9", "swegc-ft-atomic==1.0"],
                     later, reader, python="3.11")
    assert "need swegc-ft-plug>=0.12 (installed: swegc-ft-plug==0.9)" in lags[0].message(later)
    # On Python 3.12 the newer release of swegc-ft-newpy was there to take: that is a lag.
    assert [lag.package for lag in find_lags(["swegc-ft-newpy==1.0"], date, reader,
                                             python="3.12")] == ["swegc-ft-newpy"]


def test_requirements_are_read_from_a_whole_wheel_where_the_index_takes_no_ranges():
    served, server = serve_index(RELEASES, ranges=False)
    try:
        lags = find_lags(["swegc-ft-runner==3.5"], "2019-08-20T00:00:00Z",
                         IndexReader([served.url]), python="3.11")
        assert lags[0].blockers == (("swegc-ft-atomic", "2024-03-01"),)
    finally:
        server.shutdown()


def test_a_date_before_the_pythons_wheels_is_moved_past_them():
    assert moved_date("3.9", "2019-06-01T10:00:00+02:00") == "2021-01-03T00:00:00Z"
    assert moved_date("3.9", "2021-06-01") is None
    assert moved_date("3.7", "2019-06-01") is None
    assert moved_date(None, "2019-06-01") is None


@pytest.mark.docker
def test_a_setup_cfg_project_on_an_old_setuptools_installs_editable_and_build_tools_hold_the_floor(
        git_builder, tmp_path, docker_engine, index):
    """setuptools 62.6 has no build_editable (PEP 660) and the project has no setup.py: pip
    before 25.3 fell back to `setup.py develop` through a shim, and so does swegc. The venv's
    own setuptools (Debian's 66.1.1) is brought up to the floor before ``pip: [setuptools]``
    would find it "already satisfied"."""
    g = git_builder
    cfg = ("[metadata]\nname = legacycfg\nversion = 1.0\n\n[options]\npackages = legacycfg\n"
           "install_requires =\n    swegc-ft-runner\n")
    c1 = g.commit("setup.cfg only", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools~=62.6", "wheel"]\n'
                          'build-backend = "setuptools.build_meta"\n',
        "setup.cfg": cfg, "legacycfg/__init__.py": "X = 1\n"})
    c2 = g.commit("more", {"legacycfg/more.py": "Y = 2\n"})
    network = BuildNetwork.resolve({"pip_extra_index_url": index.url})
    builder = ImageBuilder(GitRepo.open(g.path), network, tmp_path / "logs")
    date = "2019-08-20T00:00:00Z"
    env = builder.env_image(EnvRecipe(repo="acme/legacycfg", base_image="swegc-base:bookworm",
                                      env_commit=c1, python="3.11", pip_date=date,
                                      pip=("setuptools",), install=("pip install -e .",)))
    inst = builder.instance_image(InstanceRecipe("acme__legacycfg-2", c2,
                                                 install=("pip install -e .",), pip_date=date),
                                  env, c1)
    try:
        with Sandbox(inst.name) as box:
            def out(cmd: str) -> str:
                return box.run(cmd).output.strip()

            assert out("python -c 'import legacycfg.more as m; print(m.__file__)'") == \
                "/testbed/legacycfg/more.py"
            assert out("python -c 'import swegc_ft_runner as r; print(r.VERSION)'") == "3.5"
            # The newest setuptools of the floor (2023-06-01) is 67.8.0; the venv came with
            # 66.1.1, and an unpinned `setuptools` must not keep that.
            version = out("python -c 'import setuptools; print(setuptools.__version__)'")
            assert Version(version) >= Version("67.8"), version
        log = (tmp_path / "logs" / f"env-{env.key}.log").read_text()
        assert "falling back to `setup.py develop` (a shim setup.py for ., which has only " \
               "setup.cfg)" in log
        assert "build tools no older than the floor" in log
    finally:
        for image in (inst, env):
            subprocess.run(["docker", "rmi", "-f", image.name], capture_output=True)


@pytest.mark.docker
def test_a_pyproject_only_project_on_an_old_setuptools_fails_saying_why(
        git_builder, tmp_path, docker_engine, index):
    """Neither setup.py nor setup.cfg: nothing to fall back on, as for pip; the log says so."""
    c1 = git_builder.commit("pyproject only", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools~=62.6"]\n'
                          'build-backend = "setuptools.build_meta"\n\n'
                          '[project]\nname = "onlypp"\nversion = "1.0"\n',
        "onlypp/__init__.py": ""})
    builder = ImageBuilder(GitRepo.open(git_builder.path),
                           BuildNetwork.resolve({"pip_extra_index_url": index.url}),
                           tmp_path / "logs")
    with pytest.raises(BuildFailed) as failure:
        builder.env_image(EnvRecipe(repo="acme/onlypp", base_image="swegc-base:bookworm",
                                    env_commit=c1, python="3.11", pip_date="2023-01-01",
                                    install=("pip install -e .",)))
    assert ("has neither setup.py nor setup.cfg to fall back on: require setuptools>=64"
            in failure.value.detail)


def _spec(path: Path, repo: str, clone: Path, records: Path, index_url: str, install: str) -> Path:
    path.write_text(
        f"extends: swegc:pytest\nrepo: {repo}\nsource: {{clone: {clone}, jsonl: {records}}}\n"
        "tests: {runs: 1}\nversion: {from: fixed, value: '1.0'}\n"
        f"build: {{pip_extra_index_url: '{index_url}'}}\n"
        "environments: [{python: '3.11', pip_date: commit,\n"
        f"                pip: [pytest, swegc-ft-runner], install: ['{install}']}}]\n")
    return path


def _pull(g: GitBuilder, number: int, base_date: str, base_files: dict[str, str],
          fix_date: str, value: int) -> dict[str, object]:
    """A base commit on main and a merged fix that changes VALUE and its test."""
    test = "from acme import VALUE\n\ndef test_value():\n    assert VALUE == {}\n"
    base = _commit_on(g, base_date, f"base {number}", base_files)
    merge = _commit_on(g, fix_date, f"Fix {number} (#{number})", {
        "acme/__init__.py": f"VALUE = {value}\n", "tests/test_value.py": test.format(value)})
    return {"repo": "", "number": number, "base_commit": base, "merge_commit": merge,
            "title": f"Fix {number}"}


@pytest.mark.docker
def test_first_try_envs_resolve_past_their_pythons_release_and_failures_say_where_their_date_came_from(
        tmp_path, docker_engine, index):
    setup = ("from setuptools import setup\nsetup(name='acme', packages=['acme'], "
             "install_requires={!r})\n")
    # A 2019 project on Python 3.11: its commit date is before 3.11 existed. Nothing it needs
    # had been released by then; as of 3.11's first wheels (2023-01-22) all of it had.
    old = GitBuilder(tmp_path / "old")
    first = _pull(old, 1, "2019-06-01T00:00:00Z", {
        "setup.py": setup.format(["swegc-ft-dated"]), "acme/__init__.py": "VALUE = 0\n"},
        "2019-06-02T00:00:00Z", 1)
    # Two pull requests whose env is made at the older one's commit (2024-01-10), which
    # requires what was first released in 2025: the env fails, though only the newer one,
    # dated after that, is selected.
    later = GitBuilder(tmp_path / "later")
    pulls = [_pull(later, 1, "2024-01-10T00:00:00Z", {
                 "setup.py": setup.format(["swegc-ft-dated>=2.0"]),
                 "acme/__init__.py": "VALUE = 0\n"}, "2024-01-11T00:00:00Z", 1),
             _pull(later, 2, "2025-03-01T00:00:00Z", {"README": "later\n"},
                   "2025-03-02T00:00:00Z", 2)]
    specs = []
    for name, g, records in (("old", old, [first]), ("later", later, pulls)):
        jsonl = tmp_path / f"{name}.jsonl"
        jsonl.write_text("".join(json.dumps({**r, "repo": f"acme/{name}"}) + "\n"
                                 for r in records))
        specs.append(str(_spec(tmp_path / f"{name}.yaml", f"acme/{name}", g.path, jsonl,
                               index.url, "pip install -e .")))
    out = tmp_path / "out"
    try:
        result = subprocess.run([sys.executable, "-m", "swegc.cli", "compile", *specs, "--out",
                                 str(out), "--instance", "acme__old-1", "--instance",
                                 "acme__later-2"], capture_output=True, text=True, timeout=1500)
        _check_first_try(result, out, pulls)
    finally:
        _remove_images("swegc-test-env/acme__old", "swegc-test-inst/acme__old-1")


def _remove_images(*repositories: str) -> None:
    """The images this test's compile made (their tags are content hashes)."""
    for repository in repositories:
        tags = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}",
                               repository], capture_output=True, text=True).stdout.split()
        for tag in tags:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def _check_first_try(result: subprocess.CompletedProcess[str], out: Path,
                     pulls: list[dict[str, object]]) -> None:
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-3000:]
    # The date was moved, and the console says so and why.
    assert ("environments[0].pip_date: 2019-06-01 (the base commit of acme__old-1) is before "
            "Python 3.11 had wheels; packages resolve as of 2023-01-22 instead") in console
    # The runner was held back: the console names the package that held it and the fix.
    assert "it needs swegc-ft-atomic (first upload 2024-03-01)" in console
    assert "add pip_date_exempt: [swegc-ft-atomic]" in console
    # The failed env names its commit, its date and the instance that set them, unselected.
    base1 = str(pulls[0]["base_commit"])
    assert (f"environments[0] at commit {base1[:12]} (pip_date 2024-01-10), the base commit "
            "of acme__later-1; acme__later-1 is not among the --instance selection") in console
    statuses = {r["instance_id"]: (r["status"], r["reason"]) for r in map(
        json.loads, (out / "partial" / "reports" / "instances.jsonl").read_text().splitlines())}
    assert statuses == {"acme__old-1": ("valid", None),
                        "acme__later-2": ("rejected", "env_build_failed")}, console[-3000:]
    envs = {r["repo"]: r for r in map(
        json.loads, (out / "partial" / "reports" / "envs.jsonl").read_text().splitlines())}
    assert envs["acme/later"]["env_commit_from"] == "the base commit of acme__later-1"
    assert envs["acme/old"]["pip_date"] == "2023-01-22T00:00:00Z"
    # The build log says so too, at the dated installer's line.
    key = envs["acme/old"]["env_key"]
    log = (out / "logs" / "images" / f"env-{key}.log").read_text()
    assert "pip resolves packages as of 2023-01-22T00:00:00Z (through uv); moved from 2019-06-01" \
        in log
