"""Under pip_date: one dated installer for the env and instance steps, with pip's semantics,
and nothing of it left in the images; warnings when a resolution falls far behind its date."""

from __future__ import annotations

import subprocess

import pytest

from index_fixtures import Release, serve_index
from swegc.git import GitRepo
from swegc.images.builder import BuildFailed, EnvRecipe, ImageBuilder, InstanceRecipe
from swegc.images.network import BuildNetwork
from swegc.images.resolution_lag import IndexReader, find_lags
from swegc.runtime.sandbox.docker_exec import DockerExecSandbox as Sandbox

DATE = "2024-06-01T00:00:00Z"
RELEASES = [
    Release("swegc-test-yanked", "1.0", "2020-01-01T00:00:00Z", yanked="withdrawn"),
    Release("swegc-test-dated", "1.0", "2023-01-01T00:00:00Z"),
    Release("swegc-test-dated", "2.0", "2025-01-01T00:00:00Z"),
    Release("swegc-test-later", "1.0", "2023-02-01T00:00:00Z"),
    Release("swegc-test-later", "2.0", "2025-02-01T00:00:00Z"),
    # A runner whose newer release needs a dependency first uploaded after the date.
    Release("swegc-test-runner", "3.5", "2018-04-01T00:00:00Z"),
    Release("swegc-test-runner", "5.1", "2019-08-01T00:00:00Z",
            requires=("swegc-test-reuploaded>=1",)),
    Release("swegc-test-reuploaded", "1.1", "2022-03-01T00:00:00Z"),
]
# A build backend without the PEP 660 build_editable hook, as old setuptools had.
LEGACY_BACKEND = ("from setuptools.build_meta import build_wheel, build_sdist, "
                  "get_requires_for_build_wheel, prepare_metadata_for_build_wheel\n")


def _setup_py(requires: list[str]) -> str:
    return ("from setuptools import setup\nsetup(name='legacy', version='2.0', "
            f"packages=['legacy'], install_requires={requires!r})\n")


@pytest.fixture(scope="module")
def index():
    served, server = serve_index(RELEASES)
    yield served
    server.shutdown()


@pytest.mark.docker
def test_env_and_instance_installs_resolve_as_of_the_date_with_pips_semantics_and_leave_no_installer(
        git_builder, tmp_path, docker_engine, index):
    g = git_builder
    c1 = g.commit("legacy project", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "backend"\n'
                          'backend-path = ["_build"]\n',
        "_build/backend.py": LEGACY_BACKEND, "legacy/__init__.py": "X = 1\n",
        "setup.py": _setup_py(["swegc-test-yanked", "swegc-test-dated"])})
    # The instance's commit adds a dependency: its install must resolve it as of the date too.
    c2 = g.commit("needs more", {"setup.py": _setup_py(
        ["swegc-test-yanked", "swegc-test-dated", "swegc-test-later"])})
    network = BuildNetwork.resolve({"pip_extra_index_url": index.url})
    builder = ImageBuilder(GitRepo.open(g.path), network, tmp_path / "logs")
    env = builder.env_image(EnvRecipe(repo="acme/legacy", base_image="swegc-base:bookworm",
                                      env_commit=c1, python="3.11", pip_date=DATE,
                                      install=("python -m pip install -e .",)))
    inst = builder.instance_image(InstanceRecipe("acme__legacy-2", c2, install=("pip install -e .",),
                                                 pip_date=DATE), env, c1)
    try:
        with Sandbox(inst.name) as box:
            def out(cmd: str) -> str:
                result = box.run(cmd)
                return result.output.strip()

            versions = out("python -c 'import swegc_test_dated as d, swegc_test_later as l, "
                           "swegc_test_yanked as y; print(d.VERSION, l.VERSION, y.VERSION)'")
            assert versions == "1.0 1.0 1.0"  # as of the date, in both steps; the yanked one too
            # Editable although the backend has no build_editable: setup.py develop, as pip did.
            assert out("python -c 'import legacy; print(legacy.__file__)'") == \
                "/testbed/legacy/__init__.py"
            # No uv, no wrapper: not on PATH, not in the venv, not anywhere in the layers.
            assert box.run("command -v uv").exit_code != 0
            assert out("readlink -f $(command -v pip)") == "/opt/venv/bin/pip"
            assert out("find / -xdev \\( -name 'uv' -o -name 'installer' -o -name "
                       "'swegc-tools' \\) -not -path '/proc/*' 2>/dev/null") == ""
            assert out("ls -A /root/.cache 2>/dev/null") == ""
        log = (tmp_path / "logs" / f"env-{env.key}.log").read_text()
        assert "only yanked releases of swegc-test-yanked fit" in log
        assert "falling back to `setup.py develop`" in log
    finally:
        for image in (inst, env):
            subprocess.run(["docker", "rmi", "-f", image.name], capture_output=True)


def test_a_resolution_far_behind_its_date_names_the_dependency_that_held_it_back(index):
    reader = IndexReader([index.url])
    freeze = ["swegc-test-runner==3.5", "swegc-test-dated==1.0"]
    lags = find_lags(freeze, "2019-08-20T00:00:00Z", reader)
    assert [(lag.package, lag.resolved, lag.available) for lag in lags] == \
        [("swegc-test-runner", "3.5", "5.1")]
    message = lags[0].message("2019-08-20T00:00:00Z")
    assert "swegc-test-reuploaded (first upload 2022-03-01)" in message
    assert "pip_date_exempt: [swegc-test-reuploaded]" in message
    # An exempted package is not reported, and a recent resolution is not a lag.
    assert find_lags(freeze, "2019-08-20", reader, exempt=("swegc-test-runner",)) == []
    assert find_lags(["swegc-test-dated==1.0"], DATE, reader) == []


@pytest.mark.docker
def test_a_package_from_an_index_without_upload_times_is_installed_there_at_its_dated_version(
        git_builder, tmp_path, docker_engine, index):
    """PyTorch's CPU index gives no upload times; uv's date cap skips such files and would
    quietly take the build index's (CUDA) build. With ``indexes`` the version is dated on the
    build index and the file comes from the named index, in the env and instance steps."""
    cpu, cpu_server = serve_index([Release("swegc-test-dated", "1.0+cpu", ""),
                                   Release("swegc-test-dated", "2.0+cpu", "")],
                                  upload_times=False)
    g = git_builder
    c1 = g.commit("one", {"requirements.txt": "swegc-test-dated\n"})
    c2 = g.commit("two", {"requirements.txt": "swegc-test-dated\nswegc-test-later\n"})
    network = BuildNetwork.resolve({"pip_extra_index_url": index.url})
    builder = ImageBuilder(GitRepo.open(g.path), network, tmp_path / "logs")
    indexes = ((cpu.url, ("swegc-test-dated",)),)
    install = ("pip install -r requirements.txt",)
    env = builder.env_image(EnvRecipe(repo="acme/cpu", base_image="swegc-base:bookworm",
                                      env_commit=c1, python="3.11", pip_date=DATE,
                                      install=install, indexes=indexes))
    inst = builder.instance_image(InstanceRecipe("acme__cpu-2", c2, install=install,
                                                 pip_date=DATE, indexes=indexes), env, c1)
    try:
        with Sandbox(inst.name) as box:
            versions = box.run("python -c 'import importlib.metadata as m; print("
                               "m.version(\"swegc-test-dated\"), m.version(\"swegc-test-later\"))'")
            # 2.0+cpu is newer than the date on the build index; 1.0 is the build index's own.
            assert versions.output.strip() == "1.0+cpu 1.0"
        log = (tmp_path / "logs" / f"env-{env.key}.log").read_text()
        assert "swegc-test-dated==1.0 as of the date; installed from its own index" in log
        # Without the key, the same date quietly takes the build index's 1.0.
        plain = EnvRecipe(repo="acme/cpu", base_image="swegc-base:bookworm", env_commit=c1,
                          python="3.11", pip_date=DATE, install=install)
        assert plain.key("x") != EnvRecipe(**{**plain.__dict__, "indexes": indexes}).key("x")
    finally:
        cpu_server.shutdown()
        for image in (inst, env):
            subprocess.run(["docker", "rmi", "-f", image.name], capture_output=True)


@pytest.mark.docker
def test_a_base_image_with_another_python_than_asked_fails_saying_how_to_map_it(
        git_builder, tmp_path, docker_engine):
    subprocess.run(["docker", "tag", "swegc-base:bookworm", "local/python:3.10-test"], check=True)
    c1 = git_builder.commit("one", {"a.txt": "a\n"})
    builder = ImageBuilder(GitRepo.open(git_builder.path), BuildNetwork.resolve({}),
                           tmp_path / "logs")
    try:
        with pytest.raises(BuildFailed) as failure:
            builder.env_image(EnvRecipe(repo="acme/a", base_image="local/python:3.10-test",
                                        env_commit=c1, python="3.10", upgrade_pip=False))
        assert ("the base image local/python:3.10-test has Python 3.11, but the environment "
                'asks for 3.10: map build.base_images["3.10"]') in failure.value.detail
    finally:
        subprocess.run(["docker", "rmi", "local/python:3.10-test"], capture_output=True)


@pytest.mark.docker
@pytest.mark.parametrize("pyproject", [
    '[build-system]\nrequires = ["setuptools>=40", "setuptools_scm"]\n'
    'build-backend = "setuptools.build_meta"\n',
    None,  # a legacy project: setup_requires alone brings setuptools_scm
], ids=["pyproject", "setup_requires"])
def test_a_project_versioned_by_setuptools_scm_gets_its_tag_version_under_an_old_date(
        git_builder, tmp_path, docker_engine, pyproject):
    """setuptools_scm reads the version from git at build time: under an old pip_date it must
    still do so (not install the project as 0.0.0), in the env and in the instance step."""
    g = git_builder
    c1 = g.commit("scm project", {
        **({"pyproject.toml": pyproject} if pyproject else {}),
        "setup.py": "from setuptools import setup\nsetup(name='scmpkg', use_scm_version=True, "
                    "setup_requires=['setuptools_scm'], packages=['scmpkg'])\n",
        "scmpkg/__init__.py": ""})
    g.git("tag", "v1.4.0", c1)
    c2 = g.commit("later", {"scmpkg/more.py": "X = 1\n"})
    g.git("tag", "v1.5.0", c2)
    builder = ImageBuilder(GitRepo.open(g.path), BuildNetwork.resolve({}), tmp_path / "logs")
    env = builder.env_image(EnvRecipe(repo="acme/scm", base_image="swegc-base:bookworm",
                                      env_commit=c1, python="3.11", pip_date="2019-08-20",
                                      install=("pip install -e .",)))
    inst = builder.instance_image(InstanceRecipe("acme__scm-2", c2, install=("pip install -e .",),
                                                 pip_date="2019-08-20"), env, c1)
    try:
        for image, version in ((env, "1.4.0"), (inst, "1.5.0")):
            with Sandbox(image.name) as box:
                found = box.run("python -c 'import importlib.metadata as m; "
                                "print(m.version(\"scmpkg\"))'").output.strip()
                assert found == version, f"{image.name}: {found}"
    finally:
        for image in (inst, env):
            subprocess.run(["docker", "rmi", "-f", image.name], capture_output=True)


def _commit_on(g, date: str, message: str, files: dict[str, str]) -> str:
    """A commit of ``g`` dated ``date`` (GitBuilder's own dates are all early 2024)."""
    import os

    g.write(files)
    g.git("add", "-A")
    stamp = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=g.path, check=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", **stamp})
    return g.git("rev-parse", "HEAD")


@pytest.mark.docker
def test_under_pip_date_commit_each_instance_resolves_as_of_its_own_base_commit(
        git_builder, tmp_path, docker_engine, index):
    """Two pull requests share an env made at the older one's commit; the newer one requires a
    package first released after that date, as of its own date: it must install and validate."""
    import json
    import sys

    g = git_builder
    setup = "from setuptools import setup\nsetup(name='acme', packages=['acme'], install_requires={})\n"
    test = "from acme import VALUE\n\ndef test_value():\n    assert VALUE == {}\n"
    base1 = _commit_on(g, "2024-01-10T00:00:00Z", "start", {
        "setup.py": setup.format(["swegc-test-dated"]), "acme/__init__.py": "VALUE = 0\n",
        "tests/test_value.py": test.format(0)})
    g.git("checkout", "-q", "-b", "pr1")
    head1 = _commit_on(g, "2024-01-11T00:00:00Z", "fix 1", {
        "acme/__init__.py": "VALUE = 1\n", "tests/test_value.py": test.format(1)})
    g.git("checkout", "-q", "main")
    g.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", head1)
    merge1 = g.git("rev-parse", "HEAD")
    # A year later the project needs swegc-test-later>=2.0 (uploaded 2025-02-01).
    base2 = _commit_on(g, "2025-03-01T00:00:00Z", "needs later 2", {
        "setup.py": setup.format(["swegc-test-dated", "swegc-test-later>=2.0"])})
    merge2 = _commit_on(g, "2025-03-02T00:00:00Z", "Fix 2 (#2)", {
        "acme/__init__.py": "VALUE = 2\n", "tests/test_value.py": test.format(2)})
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in (
        {"repo": "acme/dated", "number": 1, "base_commit": base1, "merge_commit": merge1,
         "title": "Fix 1"},
        {"repo": "acme/dated", "number": 2, "base_commit": base2, "merge_commit": merge2,
         "title": "Fix 2"})))
    spec = tmp_path / "dated.yaml"
    spec.write_text(
        f"extends: swegc:pytest\nrepo: acme/dated\nsource: {{clone: {g.path}, jsonl: {records}}}\n"
        "tests: {runs: 1}\nversion: {from: fixed, value: '1.0'}\n"
        f"build: {{pip_extra_index_url: '{index.url}'}}\n"
        "environments: [{python: '3.11', pip_date: commit, pip: [pytest],\n"
        "                install: ['pip install -e .']}]\n")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "swegc.cli", "compile", str(spec), "--out",
                             str(out)], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = {r["instance_id"]: (r["status"], r["reason"]) for r in map(
        json.loads, (out / "reports" / "instances.jsonl").read_text().splitlines())}
    assert statuses == {"acme__dated-1": ("valid", None), "acme__dated-2": ("valid", None)}, \
        result.stderr[-3000:]


@pytest.mark.docker
def test_an_override_file_that_pre_install_writes_holds_for_every_uv_call_of_the_env(
        git_builder, tmp_path, docker_engine, index):
    """dvc's spec names uv's override file in ``env`` and writes it in ``pre_install`` (a pin
    the index never had becomes a release): the build's own uv calls (bringing the venv's
    build tools to the floor) must come after it, and a build tool pre_install pins stays."""
    c1 = git_builder.commit("pins a dev build", {"requirements.txt": "swegc-test-dated==1.0.dev7\n"})
    builder = ImageBuilder(GitRepo.open(git_builder.path),
                           BuildNetwork.resolve({"pip_extra_index_url": index.url}),
                           tmp_path / "logs")
    env = builder.env_image(EnvRecipe(
        repo="acme/override", base_image="swegc-base:bookworm", env_commit=c1, python="3.11",
        pip_date=DATE, env=(("UV_OVERRIDE", "/opt/overrides.txt"),),
        pre_install=("printf 'swegc-test-dated==1.0\\n' > /opt/overrides.txt",
                     "pip install setuptools==66.1.1"),
        install=("pip install -r requirements.txt",)))
    try:
        with Sandbox(env.name) as box:
            found = box.run("python -c 'import importlib.metadata as m; print("
                            "m.version(\"swegc-test-dated\"), m.version(\"setuptools\"))'")
            assert found.output.strip() == "1.0 66.1.1"
    finally:
        subprocess.run(["docker", "rmi", "-f", env.name], capture_output=True)


@pytest.mark.docker
def test_an_editable_hook_that_fails_stays_a_failure_and_is_not_called_missing(
        git_builder, tmp_path, docker_engine):
    """A backend that has build_editable and fails in it (maturin that could not compile
    pydantic-core) is no legacy project: no `setup.py develop` fallback, no false "has no
    build_editable hook", and the hook's own error shows."""
    c1 = git_builder.commit("failing backend", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "backend"\n'
                          'backend-path = ["_build"]\n',
        "_build/backend.py": LEGACY_BACKEND + "def build_editable(*args, **kwargs):\n"
                                              "    raise SystemExit('the compiler failed here')\n",
        "legacy/__init__.py": "", "setup.py": _setup_py([])})
    builder = ImageBuilder(GitRepo.open(git_builder.path), BuildNetwork.resolve({}),
                           tmp_path / "logs")
    with pytest.raises(BuildFailed) as failure:
        built = builder.env_image(EnvRecipe(repo="acme/failing", base_image="swegc-base:bookworm",
                                            env_commit=c1, python="3.11", pip_date=DATE,
                                            install=("pip install -e .",)))
        subprocess.run(["docker", "rmi", "-f", built.name], capture_output=True)
    from pathlib import Path

    log = Path(failure.value.log_path or "").read_text()
    assert "the compiler failed here" in log
    assert "has no build_editable hook" not in log and "setup.py develop" not in log
