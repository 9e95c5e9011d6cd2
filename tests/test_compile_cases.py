"""A repository whose tests are cases in data files, compiled for real (git history, Docker):
only the cases a pull request adds or changes run, by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GitBuilder

pytestmark = pytest.mark.docker

SWEGC = [sys.executable, "-m", "swegc.cli"]
# A pytest module that turns every `[case NAME]` block of tests/data/*.test into a test with the
# id test_case[NAME]: the block is `EXPRESSION == EXPECTED`, evaluated with calc imported.
CASES_MODULE = '''\
import pathlib
import re

import pytest

import calc

DATA = pathlib.Path(__file__).parent / "data"
BLOCK = re.compile(r"^\\[case (\\w+)\\]\\n(.*?)(?=^\\[case |\\Z)", re.M | re.S)


def cases():
    for path in sorted(DATA.glob("*.test")):
        for match in BLOCK.finditer(path.read_text()):
            yield pytest.param(match.group(2), id=match.group(1))


@pytest.mark.parametrize("body", list(cases()))
def test_case(body):
    lines = [line for line in body.splitlines() if line.strip() and not line.startswith("#")]
    for line in lines:
        expression, expected = line.split(" == ")
        assert eval(expression, {"calc": calc}) == eval(expected)
'''


def case(name: str, checks: list[str], padding: int = 5) -> str:
    """A case with comment lines between its header and its checks, so that a changed check
    lies out of the diff's context around the header."""
    return f"[case {name}]\n" + "".join(f"# note {i}\n" for i in range(padding)) + \
        "".join(f"{c}\n" for c in checks) + "\n"


def cases_history(path: Path) -> Path:
    repo = GitBuilder(path)
    repo.commit("base", {
        "calc/__init__.py": "def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return a\n",
        "pytest.ini": "[pytest]\npythonpath = .\n",
        "tests/test_cases.py": CASES_MODULE,
        "tests/data/add.test": case("testAdd", ["calc.add(1, 2) == 3"])
        + case("testAddZero", ["calc.add(0, 0) == 0"]),
        "tests/data/neg.test": case("testNegZero", ["calc.neg(0) == 0"])
        + case("testNegTwice", ["calc.neg(0) == 0"]),
        "tests/other/loose.test": case("testLoose", ["1 == 1"])})
    repo.commit("Fix neg (#2)", {
        "calc/__init__.py": "def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return -a\n",
        # A new case that fails before the fix; testNegTwice's check changes far below its
        # header (it passes on both sides); testAddZero is deleted; testAdd does not change.
        "tests/data/add.test": case("testAdd", ["calc.add(1, 2) == 3"]),
        "tests/data/neg.test": case("testNegZero", ["calc.neg(0) == 0"])
        + case("testNegTwice", ["calc.neg(calc.neg(3)) == 3"])
        + case("testNegOne", ["calc.neg(1) == -1"]),
        # A case in a file the module never reads: it runs no test.
        "tests/other/loose.test": case("testLoose", ["2 == 2"])})
    return repo.path


def cases_spec(tmp_path: Path, environment: str = 'python: "3.11", pip: ["pytest==8.3.3"]') -> Path:
    """A folder with the spec of ``cases_history``'s repository: changed cases run by name."""
    clone = cases_history(tmp_path / "calc")
    spec = tmp_path / "specs" / "calc.yaml"
    spec.parent.mkdir()
    spec.write_text(f"""\
extends: swegc:pytest
repo: acme/calc
source: {{clone: {clone}, git: {{}}}}
tests:
  files: ["tests/**"]
  command: "pytest -rA -p no:cacheprovider"
  directive_files: ["tests/**/*.test"]
  directives: {{cases: '^\\[case (?P<name>\\w+)\\]', option: "-k"}}
version: {{from: fixed, value: "1.0"}}
environments: [{{{environment}}}]
""")
    return spec.parent


def compile_(specs: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*SWEGC, "compile", str(specs), "--out", str(out), *options],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_only_the_changed_cases_run_by_name_and_the_new_case_is_fail_to_pass(tmp_path,
                                                                             docker_engine):
    out = tmp_path / "out"
    compile_(cases_spec(tmp_path), out)

    from swegc.dataset import read_dataset

    (row,) = read_dataset(out)
    assert row["test_directives"] == ["testNegTwice", "testNegOne", "testLoose"]
    assert row["test_command"] == ("pytest -rA -p no:cacheprovider "
                                   "-k 'testNegTwice or testNegOne or testLoose'")
    assert row["FAIL_TO_PASS"] == ["tests/test_cases.py::test_case[testNegOne]"]
    assert row["PASS_TO_PASS"] == ["tests/test_cases.py::test_case[testNegTwice]"]
    runs = row["validation"]["sides"]  # two tests in every run: the other cases never ran
    assert len(runs) == 4 and all(sum(run["counts"].values()) == 2 for run in runs)
    (line,) = (out / "reports" / "instances.jsonl").read_text().splitlines()
    report = json.loads(line)
    assert report["warnings"] == [
        "testLoose: a changed test case that ran no test after the fix, so it is in neither "
        "FAIL_TO_PASS nor PASS_TO_PASS (is its file one the runner collects?)"]


def test_an_instance_whose_install_failed_is_built_again_only_under_retry_failed(tmp_path,
                                                                                docker_engine):
    specs = cases_spec(tmp_path, 'python: "3.11", post_install: ["exit 3"]')
    out = tmp_path / "out"
    assert "acme__calc-2: rejected: install_failed" in compile_(specs, out).stderr
    kept = compile_(specs, out).stderr  # the stored verdict stands, and is said to
    assert "[instance 1/1]" not in kept
    assert ("[instance] acme__calc-2: failed in an earlier compile (stored, not built again): "
            "rejected: install_failed; compile with --retry-failed to build it again") in kept
    again = compile_(specs, out, "--retry-failed")
    assert "[instance 1/1] acme__calc-2: rejected: install_failed" in again.stderr


def test_a_stored_env_failure_that_a_compile_reuses_is_said_with_a_pointer_to_retry_failed(
        tmp_path, docker_engine):
    specs = cases_spec(tmp_path, 'python: "3.11", pre_install: ["echo no compiler here; exit 4"]')
    out = tmp_path / "out"
    first = compile_(specs, out).stderr
    assert "acme/calc *: failed: env_build_failed" in first
    # A change the env's key does not see (the test timeout): the stored failure is kept, said.
    spec = specs / "calc.yaml"
    spec.write_text(spec.read_text().replace("tests:\n", "tests:\n  timeout: 600\n"))
    again = compile_(specs, out).stderr
    assert "[env 1/1]" not in again
    assert ("[env] acme/calc *: failed in an earlier compile (stored, not built again): "
            "env_build_failed") in again
    assert "compile with --retry-failed to build it again" in again
