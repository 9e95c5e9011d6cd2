"""The unittest runner's guard on its own: ``python -m unittest`` runs of a generated project with
the guard loaded as the graders load it (its folder first on PYTHONPATH, a ``sitecustomize.py``
beside it; no container: this machine's Python), and the rule that reads its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from swegc.runtime.harness.parsers import get_parser
from swegc.runtime.harness.tamper import RunGuard, guard_problems

TESTS = '''import unittest

from pkg import half


class HalfTest(unittest.TestCase):
    def test_half(self):
        self.assertEqual(half(4), 2)

    def test_half_of_odd(self):
        self.assertEqual(half(5), 2.5)

    def test_in_sub_tests(self):
        for value in (2, 4):
            with self.subTest(value=value):
                self.assertEqual(half(value) * 2, value)

    def test_a_failing_sub_test(self):
        for value in (2, 3):
            with self.subTest(value=value):
                self.assertEqual(half(value) * 2, value)

    @unittest.expectedFailure
    def test_expected_to_fail(self):
        self.assertEqual(half(3), 1.5)

    @unittest.skip("not today")
    def test_skipped(self):
        pass


class AsyncHalfTest(unittest.IsolatedAsyncioTestCase):
    async def test_half_awaited(self):
        self.assertEqual(half(8), 4)

    async def test_half_of_odd_awaited(self):
        self.assertEqual(half(7), 3.5)
'''
MORE = "import unittest\n\n\nclass More(unittest.TestCase):\n    def test_a(self):\n        pass\n"
# What Django's parallel runner does: tests run in forked multiprocessing workers, whose
# results the parent replays onto its own result object.
IN_WORKERS = '''import multiprocessing
import unittest

from pkg import test_half


def run_one(name):
    result = unittest.TestResult()
    test_half.HalfTest(name).run(result)
    return name, result.wasSuccessful()


if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for name, passed in pool.map(run_one, ["test_half", "test_half_of_odd"]):
            print("%s (pkg.test_half.HalfTest.%s) ... %s" % (name, name, "ok" if passed else "FAIL"))
        pool.close()
        pool.join()
'''
PASSES_FAILURES = ("import unittest\n\n\ndef _passed(self, test, err):\n    self.addSuccess(test)\n\n\n"
                   "unittest.TestResult.addFailure = _passed\nunittest.TextTestResult.addFailure = _passed\n")


def project(tmp_path: Path, code: str = "") -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("def half(x):\n    return x // 2\n\n" + code)
    (root / "pkg" / "test_half.py").write_text(TESTS)
    (root / "pkg" / "test_more.py").write_text(MORE)
    (root / "in_workers.py").write_text(IN_WORKERS)
    return root


def guarded_run(root: Path, folder: Path, command: str, pythonpath: str = ""
                ) -> tuple[subprocess.CompletedProcess, str | None, str]:
    """``command`` (``{python}``: this machine's Python) in ``root`` with a new unittest guard
    written under ``folder`` and its folder first on PYTHONPATH; (the run, the results, key)."""
    new = RunGuard.new("unittest")
    guard = RunGuard(new.runner, new.name, str(folder), new.key)
    folder.mkdir(parents=True)
    for path, text in guard.files().items():
        Path(path).write_text(text)
    env = {**os.environ, "PYTHONPATH": ":".join(filter(None, (guard.folder, pythonpath))),
           "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(command.format(python=sys.executable), shell=True, cwd=root, env=env,
                         capture_output=True, text=True, timeout=120)
    result = Path(guard.result_path)
    return run, result.read_text() if result.exists() else None, guard.key


def logged(run: subprocess.CompletedProcess, parser: str = "unittest") -> dict[str, str]:
    return get_parser(parser).parse(run.stdout + run.stderr).statuses


def test_an_honest_unittest_run_is_witnessed_test_by_test_and_leaves_no_evidence(tmp_path):
    run, raw, key = guarded_run(project(tmp_path), tmp_path / "guard",
                                "{python} -m unittest -v pkg.test_half")
    assert "FAILED (failures=3, skipped=1, expected failures=1)" in run.stderr, run.stderr[-3000:]
    [line] = raw.splitlines()
    seen = json.loads(line)["tests"]
    assert seen == {"pkg.test_half.HalfTest.test_half": "PASSED",
                    "pkg.test_half.HalfTest.test_half_of_odd": "FAILED",
                    "pkg.test_half.HalfTest.test_in_sub_tests": "PASSED",
                    "pkg.test_half.HalfTest.test_a_failing_sub_test": "FAILED",
                    "pkg.test_half.HalfTest.test_expected_to_fail": "XFAIL",
                    "pkg.test_half.AsyncHalfTest.test_half_awaited": "PASSED",
                    "pkg.test_half.AsyncHalfTest.test_half_of_odd_awaited": "FAILED"}
    assert guard_problems(raw, key, logged(run)) == []
    assert guard_problems(raw, key, logged(run, "django")) == []  # Django's ids map too


def test_code_that_makes_failures_successes_leaves_evidence_under_both_parsers(tmp_path):
    run, raw, key = guarded_run(project(tmp_path, PASSES_FAILURES), tmp_path / "guard",
                                "{python} -m unittest -v pkg.test_half.HalfTest.test_half_of_odd")
    assert run.returncode == 0 and run.stderr.rstrip().endswith("OK")  # every channel lies
    problems = guard_problems(raw, key, logged(run))
    assert "unittest.result.TestResult.addFailure was replaced or changed" in problems
    assert ("pkg.test_half.HalfTest.test_half_of_odd: reported PASSED, but the guard saw FAILED"
            in problems)
    assert ("test_half_of_odd (pkg.test_half.HalfTest): reported PASSED, but the guard saw FAILED"
            in guard_problems(raw, key, logged(run, "django")))


def test_every_process_of_the_command_that_runs_tests_reports(tmp_path):
    # two runs in one command, and tests run in forked multiprocessing workers
    run, raw, key = guarded_run(project(tmp_path), tmp_path / "guard",
                                "{python} -m unittest -v pkg.test_more; {python} in_workers.py")
    assert "test_half_of_odd (pkg.test_half.HalfTest.test_half_of_odd) ... FAIL" in run.stdout
    lines = [json.loads(line) for line in raw.splitlines()]
    assert len({line["pid"] for line in lines}) == len(lines) >= 2
    assert any("pkg.test_half.HalfTest.test_half" in line["tests"] for line in lines)  # a worker's
    assert guard_problems(raw, key, logged(run)) == []


def test_the_sitecustomize_the_guard_shadows_still_runs(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIRS_RAN'] = '1'\n")
    run, raw, _ = guarded_run(project(tmp_path), tmp_path / "guard",
                              "{python} -c \"import os; print(os.environ.get('THEIRS_RAN'))\"",
                              pythonpath=str(theirs))
    assert run.stdout.strip() == "1", run.stderr
    assert raw is None  # a process that runs no tests reports nothing
