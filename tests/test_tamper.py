"""The run's guard on its own: a pytest run of a generated project with the guard loaded as the
graders load it (no container: this machine's pytest), and the rule that reads its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cheat_fixtures import WRAP_REPORTS
from swegc.runtime.harness.tamper import RunGuard, guard_problems

TESTS = ("import os\n\nfrom pkg import half\n\n\n"
         "def test_half():\n    assert half(4) == 2\n\n\n"
         "def test_half_of_odd():\n    assert half(5) == 2.5\n\n\n"
         "def test_the_guard_left_no_trace():\n"
         "    assert '-p _' not in os.environ.get('PYTEST_ADDOPTS', '')\n")


def guarded_run(project: Path, guard: RunGuard, folder: Path) -> tuple[subprocess.CompletedProcess, str | None]:
    """pytest in ``project`` with ``guard`` written under ``folder`` (not /tmp: tests may run
    side by side) and loaded as ``Testbed.run`` loads it; (the run, the guard's results)."""
    guard = RunGuard(guard.name, str(folder), guard.key)
    folder.mkdir(parents=True, exist_ok=True)
    Path(guard.module_path).write_text(guard.source())
    env = {**os.environ, "PYTHONPATH": guard.folder, "PYTEST_ADDOPTS": guard.plugin_arg,
           "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=120)
    result = Path(guard.result_path)
    return run, result.read_text() if result.exists() else None


def project(tmp_path: Path, code: str) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("def half(x):\n    return x // 2\n\n" + code)
    (root / "test_half.py").write_text(TESTS)
    return root


def test_an_honest_run_leaves_no_evidence_and_the_guard_leaves_no_trace(tmp_path):
    guard = RunGuard.new()
    run, raw = guarded_run(project(tmp_path, ""), guard, tmp_path / "guard")
    assert run.returncode == 1 and "1 failed, 2 passed" in run.stdout, run.stdout[-2000:]
    data = json.loads(raw)
    assert data["key"] == guard.key and data["tampering"] == []
    assert data["tests"]["test_half.py::test_half_of_odd"] == "FAILED"
    assert not Path(tmp_path / "guard" / f"{guard.name}.py").exists()  # it deleted itself
    statuses = {"test_half.py::test_half": "PASSED", "test_half.py::test_half_of_odd": "FAILED"}
    assert guard_problems(raw, guard.key, statuses) == []


def test_code_that_wraps_pytests_reports_at_import_leaves_evidence(tmp_path):
    guard = RunGuard.new()
    run, raw = guarded_run(project(tmp_path, WRAP_REPORTS), guard, tmp_path / "guard")
    assert run.returncode == 0 and "3 passed" in run.stdout  # every channel lies
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
