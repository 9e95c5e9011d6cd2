"""The run's guard on its own: a pytest run of a generated project with the guard loaded as the
graders load it (no container: this machine's pytest), and the rule that reads its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cheat_fixtures import WRAP_REPORTS
from swegc.runtime.harness.parsers import get_parser
from swegc.runtime.harness.tamper import RunGuard, guard_problems

TESTS = ("import os\n\nfrom pkg import half\n\n\n"
         "def test_half():\n    assert half(4) == 2\n\n\n"
         "def test_half_of_odd():\n    assert half(5) == 2.5\n\n\n"
         "def test_the_guard_left_no_trace():\n"
         "    assert '-p _' not in os.environ.get('PYTEST_ADDOPTS', '')\n")
MORE_TESTS = "def test_a():\n    pass\n\n\ndef test_b():\n    pass\n"


def guarded_run(project: Path, guard: RunGuard, folder: Path, command: str = "{pytest}"
                ) -> tuple[subprocess.CompletedProcess, str | None]:
    """``command`` (``{pytest}``: this machine's pytest) in ``project`` with ``guard`` written
    under ``folder`` (not /tmp: tests may run side by side) and loaded as ``Testbed.run``
    loads it; (the run, the guard's results)."""
    guard = RunGuard(guard.runner, guard.name, str(folder), guard.key)
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in guard.files().items():
        Path(path).write_text(text)
    env = {**os.environ, "PYTHONPATH": guard.folder, "PYTEST_ADDOPTS": guard.plugin_arg,
           "PYTHONDONTWRITEBYTECODE": "1"}
    pytest_command = f"{sys.executable} -m pytest -rA -p no:cacheprovider"
    run = subprocess.run(command.format(pytest=pytest_command), shell=True, cwd=project, env=env,
                         capture_output=True, text=True, timeout=120)
    result = Path(guard.result_path)
    return run, result.read_text() if result.exists() else None


def project(tmp_path: Path, code: str) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("def half(x):\n    return x // 2\n\n" + code)
    (root / "test_half.py").write_text(TESTS)
    (root / "test_more.py").write_text(MORE_TESTS)
    return root


def statuses(run: subprocess.CompletedProcess) -> dict[str, str]:
    return get_parser("pytest").parse(run.stdout).statuses


def test_an_honest_run_leaves_no_evidence_and_the_guard_leaves_no_trace(tmp_path):
    guard = RunGuard.new()
    run, raw = guarded_run(project(tmp_path, ""), guard, tmp_path / "guard")
    assert run.returncode == 1 and "1 failed, 4 passed" in run.stdout, run.stdout[-2000:]
    [line] = raw.splitlines()  # one pytest process, one line
    data = json.loads(line)
    assert data["key"] == guard.key and data["tampering"] == []
    assert data["tests"]["test_half.py::test_half_of_odd"] == "FAILED"
    assert guard_problems(raw, guard.key, statuses(run)) == []


def test_a_command_that_runs_pytest_twice_is_witnessed_by_both_runs(tmp_path):
    guard = RunGuard.new()
    run, raw = guarded_run(project(tmp_path, ""), guard, tmp_path / "guard",
                           "{pytest} test_more.py && {pytest} test_half.py")
    assert "2 passed" in run.stdout and "1 failed, 2 passed" in run.stdout, run.stdout[-2000:]
    assert len(raw.splitlines()) == 2
    assert guard_problems(raw, guard.key, statuses(run)) == []


def test_pytest_xdist_workers_load_the_guard_and_are_witnessed(tmp_path):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed (pip install pytest-xdist)")
    guard = RunGuard.new()
    run, raw = guarded_run(project(tmp_path, ""), guard, tmp_path / "guard", "{pytest} -n 2")
    assert "1 failed, 4 passed" in run.stdout, run.stdout[-2000:]
    lines = [json.loads(line) for line in raw.splitlines()]
    assert len(lines) == 3 and sum(bool(line["tests"]) for line in lines) == 2  # two workers
    assert guard_problems(raw, guard.key, statuses(run)) == []
    run, raw = guarded_run(project(tmp_path / "attacked", WRAP_REPORTS), RunGuard.new(),
                           tmp_path / "attacked-guard", "{pytest} -n 2")
    assert run.returncode == 0, run.stdout[-2000:]  # every channel lies
    problems = guard_problems(raw, json.loads(raw.splitlines()[0])["key"], statuses(run))
    assert "test_half.py::test_half_of_odd: reported PASSED, but the guard saw FAILED" in problems


def test_a_line_appended_without_the_key_is_evidence():
    good = json.dumps({"key": "k", "tests": {"t.py::test_a": "PASSED"}, "tampering": [],
                       "complete": True})
    forged = json.dumps({"key": "guessed", "tests": {}, "tampering": [], "complete": True})
    assert guard_problems(good + "\n", "k", {"t.py::test_a": "PASSED"}) == []
    assert guard_problems(f"{good}\n{forged}\n", "k", {"t.py::test_a": "PASSED"}) == [
        "the guard's results do not carry this run's key"]


def test_code_that_wraps_pytests_reports_at_import_leaves_evidence(tmp_path):
    guard = RunGuard.new()
    run, raw = guarded_run(project(tmp_path, WRAP_REPORTS), guard, tmp_path / "guard")
    assert run.returncode == 0 and "5 passed" in run.stdout  # every channel lies
    problems = guard_problems(raw, guard.key, {"test_half.py::test_half_of_odd": "PASSED"})
    assert any("TestReport.from_item_and_call was replaced" in p for p in problems), problems
    assert "test_half.py::test_half_of_odd: reported PASSED, but the guard saw FAILED" in problems


def test_missing_results_or_another_key_are_evidence_unless_the_run_was_cut_short():
    statuses = {"t.py::test_a": "PASSED"}
    assert "wrote no results" in guard_problems(None, "k", statuses)[0]
    assert guard_problems(None, "k", statuses, run_proper=False) == []
    forged = json.dumps({"key": "guessed", "tests": {"t.py::test_a": "PASSED"}, "tampering": [],
                         "complete": True})
    assert guard_problems(forged, "k", statuses) == ["the guard's results do not carry this run's key"]
    assert guard_problems("{not json", "k", statuses) == ["the guard's results cannot be read"]


def test_a_test_reported_passed_that_the_guard_never_saw_run_is_evidence():
    raw = json.dumps({"key": "k", "tests": {"tests/t.py::test_a": "PASSED"}, "tampering": [],
                      "complete": True})
    problems = guard_problems(raw, "k", {"tests/t.py::test_a": "PASSED", "tests/t.py::test_b": "PASSED",
                                         "tests/t.py::test_c": "FAILED"})
    assert problems == ["tests/t.py::test_b: reported PASSED, but the guard saw no call of it"]
    # an id printed with more leading folders than pytest's rootdir gives still finds its test
    assert guard_problems(raw, "k", {"repo/tests/t.py::test_a": "PASSED"}) == []


def test_a_run_already_not_believed_still_counts_what_the_guard_saw():
    raw = json.dumps({"key": "k", "tests": {"t.py::test_a": "FAILED"}, "tampering": [],
                      "complete": True})
    assert guard_problems(raw, "k", {"t.py::test_a": "PASSED"}, run_proper=False) == [
        "t.py::test_a: reported PASSED, but the guard saw FAILED"]


def test_a_junit_report_that_says_passed_against_the_guard_is_evidence():
    raw = json.dumps({"key": "k", "tests": {"tests/t.py::test_a": "FAILED",
                                            "tests/t.py::test_b": "PASSED"},
                      "tampering": [], "complete": True})
    junit = ('<testsuites><testsuite><testcase classname="tests.t" name="test_a"/>'
             '<testcase classname="tests.t" name="test_b"/></testsuite></testsuites>')
    assert guard_problems(raw, "k", {}, run_proper=False, junit_xml=junit) == [
        "tests.t::test_a: the JUnit report says PASSED, but the guard saw FAILED"]
