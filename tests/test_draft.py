"""`swegc draft`: a spec read from a clone's own files and history, every line with its reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from swegc.compiler.draft.model import Draft
from swegc.compiler.draft.reading import draft_spec
from swegc.compiler.spec.loader import load_specs

ROOT = Path(__file__).resolve().parents[1]


def swegc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swegc.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=900)


def dated_commit(builder, monkeypatch, when: str, message: str, files: dict) -> str:
    """A commit on a date of our choosing (the era a Python is chosen by)."""
    builder.write(files)
    builder.git("add", "-A")
    monkeypatch.setenv("GIT_AUTHOR_DATE", f"{when}T12:00:00+00:00")
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{when}T12:00:00+00:00")
    builder.git("commit", "-q", "-m", message)
    return builder.git("rev-parse", "HEAD")


def merged_pull(builder, monkeypatch, when: str, number: int, files: dict) -> None:
    """A pull request merged GitHub's way: a branch, then a --no-ff merge commit."""
    builder.git("checkout", "-q", "-b", f"pr{number}")
    dated_commit(builder, monkeypatch, when, f"Change for #{number}", files)
    builder.git("checkout", "-q", "main")
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{when}T13:00:00+00:00")
    builder.git("merge", "-q", "--no-ff", f"pr{number}", "-m",
                f"Merge pull request #{number} from someone/pr{number}")


def setup_py(requires: str, pythons: list[str], deps: list[str]) -> str:
    classifiers = ", ".join(f"'Programming Language :: Python :: {v}'" for v in pythons)
    return (f"from setuptools import setup\nsetup(name='pkg', python_requires='{requires}',\n"
            f"      install_requires={deps!r},\n"
            f"      extras_require={{'test': ['pytest']}},\n      classifiers=[{classifiers}])\n")


@pytest.fixture
def two_eras(git_builder, monkeypatch):
    """A 2020 project on Python 3.7-3.8 with lxml, that moves to 3.8-3.9 and a requirements
    file in 1.0; a pull request inside 1.0 adds attrs."""
    b = git_builder
    dated_commit(b, monkeypatch, "2020-03-01", "Start", {
        "setup.py": setup_py(">=3.7", ["3.7", "3.8"], ["lxml"]),
        "pkg/__init__.py": '__version__ = "0.1"\n',
        "tests/test_pkg.py": "def test_one():\n    assert True\n"})
    merged_pull(b, monkeypatch, "2020-04-01", 1, {"pkg/a.py": "A = 1\n",
                                                  "tests/test_a.py": "def test_a(): pass\n"})
    dated_commit(b, monkeypatch, "2021-03-01", "Release 1.0", {
        "setup.py": setup_py(">=3.8", ["3.8", "3.9"], ["lxml"]),
        "requirements-dev.txt": "pytest\npytest-cov\n",
        "pkg/__init__.py": '__version__ = "1.0"\n'})
    merged_pull(b, monkeypatch, "2021-04-01", 2, {
        "setup.py": setup_py(">=3.8", ["3.8", "3.9"], ["lxml", "attrs>=20"]),
        "tests/test_b.py": "def test_b(): pass\n"})
    dated_commit(b, monkeypatch, "2021-05-01", "Use attrs everywhere (#3)",
                 {"pkg/b.py": "import attrs\n"})
    return b.path


def test_a_draft_splits_environments_where_the_python_and_install_change(two_eras, tmp_path):
    before = subprocess.run(["git", "status", "--porcelain"], cwd=two_eras, capture_output=True,
                            text=True).stdout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=two_eras, capture_output=True,
                          text=True).stdout
    drafted = draft_spec(two_eras, repo="acme/pkg", out_name=str(tmp_path / "pkg.yaml"))
    old, new = drafted.spec["environments"]
    assert (old["versions"], new["versions"]) == ("<1.0", ">=1.0")
    # 2020's project stops at 3.8, which this machine does not build: 3.9 stands in, or with
    # official_pythons the official image.
    assert (old["python"], new["python"]) == ("3.9", "3.9") and "build" not in drafted.spec
    official = draft_spec(two_eras, repo="acme/pkg", official_pythons=True)
    assert official.spec["environments"][0]["python"] == "3.8"
    assert official.spec["build"]["base_images"] == {"3.8": "python:3.8-bookworm"}
    assert {"libxml2-dev", "libxslt1-dev"} <= set(old["apt"])
    assert old["install"] == ["pip install -e '.[test]'"]
    assert new["install"] == ["pip install -e '.[test]' -r requirements-dev.txt"]
    # attrs arrives with pull request #2, after the env's commit: the env installs it itself.
    assert "attrs" in new["pip"] and all(e["pip_date"] == "commit" for e in (old, new))
    assert drafted.spec["source"]["git"] == {"merges": True, "squash": True}
    assert drafted.spec["source"]["clone"] == "repo"
    assert drafted.spec["version"]["path"] == "pkg/__init__.py"
    assert drafted.spec["tests"]["parser"] == "pytest"
    assert "attrs" in drafted.why["environments.1.pip"]
    # Reading never checked anything out: the clone is as it was.
    assert subprocess.run(["git", "status", "--porcelain"], cwd=two_eras, capture_output=True,
                          text=True).stdout == before
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=two_eras, capture_output=True,
                          text=True).stdout == head


def test_merges_titled_with_the_pull_request_title_count_as_merges(two_eras, git_builder,
                                                                    tmp_path, monkeypatch):
    # click's merge queue writes "<title> (#N)" merge commits: source.git reads them (merges).
    builder = git_builder  # the one two_eras was built with
    builder.git("checkout", "-q", "-b", "pr4")
    dated_commit(builder, monkeypatch, "2021-06-01", "Work", {"pkg/c.py": "C = 1\n"})
    builder.git("checkout", "-q", "main")
    builder.git("merge", "-q", "--no-ff", "pr4", "-m", "Add c (#4)")
    drafted = draft_spec(two_eras, repo="acme/pkg", out_name=str(tmp_path / "pkg.yaml"))
    assert drafted.spec["source"]["git"] == {"merges": True, "squash": True}
    assert drafted.why["source.git"].startswith(
        "the first-parent history holds 3 pull request merges ('Merge pull request #N' or "
        "'... (#N)') and 1 squash commit")
    assert "4 merged pull requests" in drafted.why[""] and "swegc mine" not in drafted.why[""]


def test_the_written_spec_passes_check_and_says_why_above_every_environment(two_eras, tmp_path):
    out = tmp_path / "specs" / "pkg.yaml"
    result = swegc("draft", str(two_eras), "--out", str(out), "--repo", "acme/pkg")
    assert result.returncode == 0, result.stderr
    assert "2 environments" in result.stdout
    text = out.read_text()
    [spec] = load_specs([out])  # what `swegc check` loads: schema, shell syntax, coverage
    assert [e.python for e in spec.environments] == ["3.9", "3.9"]
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("- versions:", "install:", "python:", "command:")):
            assert lines[index - 1].lstrip().startswith("#"), f"no reason above {line!r}"
    assert "lxml builds against libxml2/libxslt" in text
    assert yaml.safe_load(text) == draft_spec(two_eras, repo="acme/pkg", out_name=str(out)).spec


def test_a_tag_versioned_unittest_project_drafts_git_describe_and_the_unittest_runner(
        git_builder, monkeypatch):
    b = git_builder
    dated_commit(b, monkeypatch, "2023-02-01", "Start", {
        "pyproject.toml": ('[build-system]\nrequires = ["setuptools>=64", "setuptools_scm>=8"]\n'
                           'build-backend = "setuptools.build_meta"\n[project]\nname = "tagged"\n'
                           'dynamic = ["version"]\n[project.optional-dependencies]\n'
                           'testing = ["coverage"]\n[tool.setuptools_scm]\n'),
        "tox.ini": "[tox]\nenvlist = py3{10,11}\n",
        "tagged/__init__.py": "",
        "tagged/tests/test_core.py": ("import unittest\n\nclass CoreTest(unittest.TestCase):\n"
                                      "    def test_it(self):\n        pass\n")})
    b.git("tag", "v0.3.0")
    merged_pull(b, monkeypatch, "2023-03-01", 4, {"tagged/core.py": "X = 1\n"})
    drafted = draft_spec(b.path, repo="acme/tagged")
    assert drafted.spec["version"] == {"from": "git-describe", "pattern": r"^v?(?P<version>\d+\.\d+)"}
    assert drafted.spec["tests"]["parser"] == "unittest"
    assert drafted.spec["tests"]["directives"] == "modules"
    assert "**/tests/**" in drafted.spec["tests"]["files"]
    [env] = drafted.spec["environments"]
    assert env["python"] == "3.11"  # tox names 3.10 and 3.11; only 3.11 is built here
    assert env["install"] == ["pip install -e '.[testing]'"]
    assert env["env"]["SETUPTOOLS_SCM_PRETEND_VERSION"] == "0.3.0"
    assert "tox.ini envlist" in drafted.why["environments.0.python"]


def test_with_edit_sets_one_key_and_its_reason_and_the_yaml_reads_back():
    draft = Draft({"repo": "a/b", "environments": [{"python": "3.11", "install": ["true"]}]},
                  {"environments.0.install": "old reason"})
    edited = draft.with_edit("environments.0.apt", ["libpq-dev"], "psycopg2 needs libpq") \
        .with_edit("environments.1", {"versions": ">=2", "python": "3.10"}, "a new range") \
        .with_edit("environments.0.install", ["pip install -e ."], "install the project")
    assert draft.spec["environments"][0] == {"python": "3.11", "install": ["true"]}
    assert edited.spec["environments"][1] == {"versions": ">=2", "python": "3.10"}
    text = edited.to_yaml()
    assert yaml.safe_load(text) == edited.spec
    assert "# psycopg2 needs libpq\n    apt: [libpq-dev]" in text
    assert "  # a new range\n  - versions: \">=2\"\n    python: \"3.10\"" in text
    assert "old reason" not in text and "# install the project" in text


def test_drafting_a_folder_that_is_not_a_clone_says_so(tmp_path):
    result = swegc("draft", str(tmp_path))
    assert result.returncode == 1
    assert "not a git repository" in result.stderr and "Traceback" not in result.stderr


def test_the_drafted_example_spec_compiles_the_hand_written_specs_valid_instances(
        example_compile, tmp_path):
    clone = tmp_path / "calc"
    subprocess.run(["git", "clone", "-q", str(ROOT / "examples" / "calc.bundle"), str(clone)],
                   check=True)
    out = tmp_path / "calc.yaml"
    drafted = swegc("draft", str(clone), "--out", str(out), "--repo", "example/calc")
    assert drafted.returncode == 0, drafted.stderr
    checked = swegc("check", str(out))
    assert checked.returncode == 0, checked.stderr
    hand = {row["instance_id"] for row in _reports(example_compile[0]) if row["status"] == "valid"}
    assert hand == {"example__calc-2", "example__calc-8", "example__calc-10"}
    # The same file, compiled on the hand-written spec's valid pull requests only (to keep the
    # test short): the drafted environment must make each of them valid too.
    again = draft_spec(clone, repo="example/calc", out_name=str(out))
    assert again.to_yaml() == out.read_text()
    numbers = sorted(int(i.rsplit("-", 1)[1]) for i in hand)
    # One run per side: the flaky test of #10 is the hand-written side's to find.
    sample = again.with_edit("source.filters.numbers", numbers, "the test's sample") \
        .with_edit("tests.runs", 1, "one run per side keeps the test short")
    out.write_text(sample.to_yaml())
    build = tmp_path / "build"
    compiled = swegc("compile", str(out), "--out", str(build))
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    valid = {row["instance_id"] for row in _reports(build) if row["status"] == "valid"}
    assert hand <= valid, f"drafted spec lost {sorted(hand - valid)}"


def _reports(build: Path) -> list[dict]:
    text = (build / "reports" / "instances.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_a_conda_environment_file_is_read_where_nothing_else_lists_test_packages(
        git_builder, monkeypatch):
    b = git_builder
    dated_commit(b, monkeypatch, "2022-06-01", "Start", {
        "setup.py": "from setuptools import setup\nsetup(name='geo', python_requires='>=3.9')\n",
        "environment.yml": ("name: geo-dev\nchannels: [conda-forge]\ndependencies:\n"
                            "  - python=3.10\n  - pip\n  - shapely>=1.8\n  - pytest\n"
                            "  - pip:\n    - pytest-mock\n"),
        "geo/__init__.py": '__version__ = "0.5"\n',
        "geo/tests/test_geo.py": "def test_geo():\n    pass\n"})
    merged_pull(b, monkeypatch, "2022-07-01", 9, {"geo/a.py": "A = 1\n"})
    [env] = draft_spec(b.path, repo="acme/geo").spec["environments"]
    assert env["install"] == ["pip install -e ."]
    assert env["pip"] == ["shapely", "pytest", "pytest-mock"]
    assert "libgeos-dev" in env["apt"]  # Shapely's headers, from the rules table


def test_drafting_an_empty_repository_says_it_has_no_commits(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "empty")], check=True)
    result = swegc("draft", str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "names no commit" in result.stderr and "Traceback" not in result.stderr


def test_a_file_removed_within_a_version_is_not_in_its_install(git_builder, monkeypatch):
    """Every instance runs its range's install at its own base commit: a requirements file
    that a later commit of the same version deletes must not be named."""
    b = git_builder
    dated_commit(b, monkeypatch, "2023-01-01", "Start", {
        "setup.py": "from setuptools import setup\nsetup(name='rm', python_requires='>=3.9')\n",
        "requirements-dev.txt": "pytest\n",
        "rm/__init__.py": '__version__ = "2.0"\n',
        "tests/test_rm.py": "def test_rm():\n    pass\n"})
    merged_pull(b, monkeypatch, "2023-02-01", 5, {"rm/a.py": "A = 1\n"})
    dated_commit(b, monkeypatch, "2023-03-01", "Move to pyproject groups",
                 {"requirements-dev.txt": None})
    merged_pull(b, monkeypatch, "2023-04-01", 6, {"rm/b.py": "B = 1\n"})
    [env] = draft_spec(b.path, repo="acme/rm").spec["environments"]
    assert env["install"] == ["pip install -e ."]


def test_a_tests_file_is_preferred_and_a_pin_of_the_project_itself_is_filtered_out(
        git_builder, monkeypatch, tmp_path):
    b = git_builder
    dated_commit(b, monkeypatch, "2023-01-01", "Start", {
        "setup.py": "from setuptools import setup\nsetup(name='lockme', python_requires='>=3.9')\n",
        "requirements/dev.txt": "-r tests.txt\npip-tools==7.0\nlockme==0.9\n",
        "requirements/tests.txt": "pytest==7.4.0\nLockMe==0.9 ; python_version>'3'\n",
        "lockme/__init__.py": '__version__ = "1.0"\n',
        "tests/test_lock.py": "def test_lock():\n    pass\n"})
    merged_pull(b, monkeypatch, "2023-02-01", 3, {"lockme/a.py": "A = 1\n"})
    drafted = draft_spec(b.path, repo="acme/lockme", out_name=str(tmp_path / "lockme.yaml"))
    [env] = drafted.spec["environments"]
    grep, install = env["install"]
    assert "requirements/tests.txt" in grep and "dev.txt" not in install
    assert install == "pip install -e . -r /tmp/swegc-requirements-tests.txt"
    (tmp_path / "lockme.yaml").write_text(drafted.to_yaml())
    load_specs([tmp_path / "lockme.yaml"])  # the grep line passes `bash -n`
    # Run as the image runs it, writing into the test's folder instead of /tmp.
    kept = tmp_path / "kept.txt"
    subprocess.run(["bash", "-c", grep.replace("/tmp/swegc-requirements-tests.txt", str(kept))],
                   cwd=b.path, check=True)
    assert kept.read_text() == "pytest==7.4.0\n"


def test_a_requirement_whose_marker_quotes_a_python_version_adds_the_package_not_the_version(
        git_builder, monkeypatch):
    """dvc's setup.py: ``"dataclasses; python_version < '3.7'"``. A string read up to either
    quote took the marker's '3.7' for a package (and lost the packages after it)."""
    b = git_builder
    dated_commit(b, monkeypatch, "2021-03-01", "Start", {
        "setup.py": setup_py(">=3.8", ["3.8", "3.9"], ["attrs"]),
        "pkg/__init__.py": "", "tests/test_pkg.py": "def test_one():\n    assert True\n"})
    merged_pull(b, monkeypatch, "2021-04-01", 2, {
        "setup.py": setup_py(">=3.8", ["3.8", "3.9"], [
            "attrs", "importlib-metadata; python_version < '3.8'", "tqdm>=4",
            "pywin32>=225; sys_platform == 'win32'", "toml"]),
        "tests/test_b.py": "def test_b(): pass\n"})
    dated_commit(b, monkeypatch, "2021-05-01", "More (#3)", {"pkg/b.py": "B = 1\n"})
    [env] = draft_spec(b.path, repo="acme/marked").spec["environments"]
    assert sorted(p for p in env["pip"] if p != "pytest") == \
        ["importlib-metadata", "pywin32", "toml", "tqdm"]
