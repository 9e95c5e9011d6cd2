"""The one rule set of what a patch may not change, run as both graders run it (``python3 -I
-S`` in the repository) on generated repositories: what it puts back, what it leaves, what it
reports, and the reference fix's test infrastructure it puts in."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from swegc.runtime.harness.guard import Protected
from swegc.runtime.harness.protected_files import by_name, report_line, reported_paths, runner_part

PROGRAM = Path(__file__).resolve().parents[1] / "runtime" / "harness" / "protected_files.py"
PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "1.0"
dependencies = ["more-itertools"]

[project.scripts]
calc = "calc.cli:main"
"""
SETUP_CFG = """[metadata]
name = calc

[options]
install_requires =
    more-itertools

[options.entry_points]
console_scripts =
    calc = calc.cli:main
"""
BASE_FILES = {"pyproject.toml": PYPROJECT, "setup.cfg": SETUP_CFG, "calc/__init__.py": "",
              "calc/stats.py": "def mean(v):\n    return sum(v) / len(v)\n",
              "tests/test_stats.py": "def test_mean():\n    pass\n",
              "tests/helpers.py": "VALUES = [1, 2]\n", ".gitignore": "*.so\nbuild/\n"}


def changed(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


@pytest.mark.parametrize("old, new", [
    (PYPROJECT, changed(PYPROJECT, '["more-itertools"]', '["more-itertools", "toolz>=0.12"]')),
    (PYPROJECT, changed(PYPROJECT, 'version = "1.0"', 'version = "1.1"')),
    (PYPROJECT, PYPROJECT + '\n[project.entry-points."calc.plugins"]\nmedian = "calc.median"\n'),
    (SETUP_CFG, changed(SETUP_CFG, "    more-itertools\n", "    more-itertools\n    toolz\n")),
    (SETUP_CFG, changed(SETUP_CFG, "calc = calc.cli:main", "calc = calc.cli:main\n    c2 = calc.x:y")),
], ids=["dependency", "version", "entry point", "install_requires", "console script"])
def test_a_fixs_packaging_change_leaves_the_test_runner_part_as_it_was(old, new):
    assert runner_part(old.encode()) == runner_part(new.encode())


@pytest.mark.parametrize("old, new", [
    (PYPROJECT, PYPROJECT + '\n[tool.pytest.ini_options]\naddopts = "-p calc.cheat"\n'),
    (PYPROJECT, PYPROJECT + '\n[tool.pytest]\naddopts = ["-p", "calc.cheat"]\n'),
    (PYPROJECT, PYPROJECT + '\n[project.entry-points.pytest11]\ncheat = "calc.cheat"\n'),
    (PYPROJECT, PYPROJECT + '\n[project.entry-points]\n"pytest\\u0031\\u0031" = {c = "calc.cheat"}\n'),
    (PYPROJECT, changed(PYPROJECT, '[project.scripts]', '[tool.poetry.plugins."pytest11"]')),
    (SETUP_CFG, SETUP_CFG + "pytest11 =\n    cheat = calc.cheat\n"),
    (SETUP_CFG, SETUP_CFG + "\n[tool:pytest]\naddopts = -p calc.cheat\n"),
    ("[tox]\nenvlist = py311\n", "[tox]\nenvlist = py311\n\n[pytest]\naddopts = -p calc.cheat\n"),
], ids=["pytest ini_options", "pytest 9 table", "pytest11 table", "pytest11 spelled in escapes",
        "poetry plugin", "pytest11 in setup.cfg", "tool:pytest", "tox pytest section"])
def test_a_change_to_how_pytest_runs_changes_the_test_runner_part(old, new):
    assert runner_part(old.encode()) != runner_part(new.encode())


def test_report_lines_give_back_every_path_they_name():
    paths = ["conftest.py", "a b/test_x.py", 'q"uote.py', "new\nline.py", '"quoted".py']
    output = "noise\n" + "\n".join(report_line("test file", p) for p in paths) + "\nmore\n"
    assert reported_paths(output) == paths


def test_names_alone_say_which_files_may_be_test_infrastructure():
    for path in ("conftest.py", "pkg/tests/conftest.py", "pytest.ini", "tox.ini", "setup.cfg",
                 "sub/pyproject.toml", "sitecustomize.py", "src/usercustomize.py", "x/evil.pth",
                 "pkg/__pycache__/m.cpython-311.pyc", "calc/_speedups.cpython-311-x86_64-linux-gnu.so",
                 "calc.egg-info/entry_points.txt", "pytest.py", "_pytest/main.py",
                 "tests/test_ops.py", "pkg/ops_test.py", ".gitignore"):
        assert by_name(path), path
    for path in ("calc/ops.py", "src/_pytest/main.py", "docs/testing.rst", "README.md"):
        assert by_name(path) is None, path


# -- the program in a generated repository --------------------------------------------------------

@pytest.fixture
def repo(git_builder):
    base = git_builder.commit("base", BASE_FILES)
    return git_builder, base


def run_rules(repo_path: Path, protected: Protected) -> subprocess.CompletedProcess:
    """The program as put_back and eval_script run it: ``python3 -I -S`` in the repository."""
    args = [sys.executable, "-I", "-S", str(PROGRAM), protected.settings_json()]
    reference = protected.reference_diff()
    if reference:
        (repo_path.parent / "reference.diff").write_text(reference)
        args.append(str(repo_path.parent / "reference.diff"))
    result = subprocess.run(args, cwd=repo_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def dirty(builder) -> list[str]:
    return builder.git("status", "--porcelain", "--untracked-files=all").splitlines()


def test_a_dependency_line_survives_and_a_pytest_setting_puts_the_whole_file_back(repo):
    builder, base = repo
    with_dependency = changed(PYPROJECT, '["more-itertools"]', '["more-itertools", "toolz"]')
    builder.write({"pyproject.toml": with_dependency,
                   "setup.cfg": SETUP_CFG + "\n[tool:pytest]\naddopts = -p calc.cheat\n"})
    result = run_rules(builder.path, Protected(base_commit=base))
    assert reported_paths(result.stdout) == ["setup.cfg"]
    assert (builder.path / "pyproject.toml").read_text() == with_dependency
    assert (builder.path / "setup.cfg").read_text() == SETUP_CFG


def test_test_files_start_up_hooks_and_added_ignore_rules_are_put_back(repo):
    builder, base = repo
    builder.write({"tests/test_stats.py": "def test_mean():\n    assert True\n",
                   "tests/helpers.py": "VALUES = []\n", "calc/test_util.py": "X = 1\n",
                   "conftest.py": "import os\n", "calc/evil.pth": "import os\n",
                   "sitecustomize.py": "import os\n", "calc/stats.py": "def mean(v):\n    return 0\n",
                   "calc/.gitignore": "*\n", "calc/hidden_plugin.py": "X = 1\n"})
    protected = Protected(base_commit=base, test_ids=("tests/test_stats.py::test_mean",),
                          test_globs=("tests/**",))
    result = run_rules(builder.path, protected)
    assert sorted(reported_paths(result.stdout)) == sorted([
        "calc/.gitignore", "calc/evil.pth", "calc/test_util.py", "conftest.py", "sitecustomize.py",
        "tests/helpers.py", "tests/test_stats.py"])
    # What is left is the fix, and the file the added ignore rule hid, which no rule guards.
    assert dirty(builder) == ["M calc/stats.py", "?? calc/hidden_plugin.py"]


def test_files_the_base_ignores_are_left_alone_but_bytecode_and_caches_go(repo):
    builder, base = repo
    builder.write({"calc/_ext.so": b"\x7fELF", "build/lib/calc/x.py": "X = 1\n",
                   "calc/__pycache__/stats.cpython-311.pyc": b"\0", "calc/old.pyc": b"\0",
                   ".pytest_cache/v/cache/lastfailed": "{}"})
    builder.git("config", "core.excludesFile", "/dev/null")
    (builder.path / ".git" / "info" / "exclude").write_text("__pycache__/\n*.py[co]\n.pytest_cache/\n")
    result = run_rules(builder.path, Protected(base_commit=base))
    assert reported_paths(result.stdout) == []
    assert "3 untracked bytecode or pytest cache files removed" in result.stdout
    assert (builder.path / "calc" / "_ext.so").exists() and (builder.path / "build").exists()
    assert not (builder.path / "calc" / "old.pyc").exists()
    assert not (builder.path / ".pytest_cache" / "v" / "cache" / "lastfailed").exists()


def test_test_patch_files_go_back_to_the_base_commit_and_are_named_only_when_changed(repo):
    builder, base = repo
    builder.write({"tests/test_new.py": "def test_new():\n    pass\n", "tests/helpers.py": None})
    protected = Protected(base_commit=base, test_files=("tests/test_new.py", "tests/helpers.py",
                                                        "tests/test_stats.py"))
    result = run_rules(builder.path, protected)
    assert reported_paths(result.stdout) == ["tests/helpers.py", "tests/test_new.py"]
    assert dirty(builder) == []


def test_the_reference_fixs_conftest_is_put_in_but_not_its_dependency_line(repo, tmp_path):
    builder, base = repo
    builder.write({"conftest.py": "GOLD = True\n", "calc/stats.py": "def mean(v):\n    return 1\n",
                   "pyproject.toml": changed(PYPROJECT, '["more-itertools"]', '["toolz"]'),
                   "calc/test_data.py": "DATA = [1]\n"})
    builder.git("add", "-A")
    gold = builder.git("diff", "--cached", base) + "\n"
    builder.git("reset", "-q", "--hard", base)
    builder.write({"conftest.py": "CHEAT = True\n"})
    result = run_rules(builder.path, Protected(base_commit=base, gold_patch=gold))
    assert reported_paths(result.stdout) == ["conftest.py"]
    assert "the reference fix's test infrastructure, put in: conftest.py" in result.stdout
    assert (builder.path / "conftest.py").read_text() == "GOLD = True\n"
    assert (builder.path / "pyproject.toml").read_text() == PYPROJECT
    assert "pyproject.toml" not in result.stdout and "calc/stats.py" not in result.stdout
    assert not (builder.path / "calc" / "test_data.py").exists()  # part of the fix: not handed out


def test_the_program_is_written_for_the_oldest_python_an_image_may_have():
    source = PROGRAM.read_text()
    ast.parse(source, feature_version=(3, 6))
    assert "from __future__ import annotations" not in source  # a SyntaxError before 3.7
    assert "import swegc" not in source and "from swegc" not in source
    assert json.loads(Protected(base_commit="abc").settings_json())["base"] == "abc"


def test_the_reference_fix_graded_as_a_candidate_has_nothing_put_back(repo):
    builder, base = repo
    builder.write({"conftest.py": "GOLD = True\n", "calc/stats.py": "def mean(v):\n    return 1\n",
                   "tox.ini": "[pytest]\naddopts = -ra\n"})
    builder.git("add", "-A")
    gold = builder.git("diff", "--cached", base) + "\n"
    builder.git("reset", "-q", "--mixed", base)  # the fix stays applied, as a candidate
    result = run_rules(builder.path, Protected(base_commit=base, gold_patch=gold))
    assert reported_paths(result.stdout) == [] and "put in" not in result.stdout
    assert dirty(builder) == ["M calc/stats.py", "?? conftest.py", "?? tox.ini"]


def test_a_setting_hidden_behind_an_indented_bracket_line_or_a_bad_escape_still_counts():
    base = "[tool:pytest]\naddopts =\n    [x]\n"
    assert runner_part(base.encode()) != runner_part((base + "    -p calc.cheat\n").encode())
    broken = PYPROJECT + '\n[tool.pytest.ini_options]\naddopts = "\\UFFFFFFFF"\n'
    assert runner_part(PYPROJECT.encode()) != runner_part(broken.encode())
