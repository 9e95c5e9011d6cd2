"""What the run's guard (tamper evidence, ``runtime/harness/pytest_guard.py``) costs a grade.

    python benchmarks/guard_bench.py [--rounds 10] [--out benchmarks/results/guard.json] [--command-only]

A generated package whose suite is 1,500 real tests (each a few thousand additions, about 3 s a
run in all: the guard's cost is per test and per plugin, so a suite of a few slow tests would
hide it) is compiled into one instance; then, in one run, its gold patch is graded with
``grade_patch`` alternately with the guard (as every grade runs) and without it (the guard left
out of the run procedure for this measurement only), ``--rounds`` times each. Reported: the mean
and median wall time of a whole grade each way, the test command's own time each way (from the
grade's log: pytest's "in Xs"), and the guard's cost as a share of the unguarded grade.

The same suite is then run by unittest's own runner (``python -m unittest -v``, 1,500 generated
test methods, the unittest parser, the start-up guard ``unittest_guard.py``) and measured the
same way, in the same run: ``unittest`` in the results.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from compile_bench import run_compile  # noqa: E402
from conftest import GitBuilder  # noqa: E402 - the tests' deterministic repository builder

SPEC = """\
repo: bench/busy
extends: swegc:pytest
source: {{clone: {clone}, git: {{}}}}
tests: {{files: ["tests/**"], runs: 1, timeout: 600}}
version: {{from: fixed, value: "1.0"}}
environments: [{{versions: "", python: "3.11", pip: ["pytest==8.3.3"], install: ["pip install -e ."]}}]
"""
TESTS = 1500
_SECONDS = re.compile(r"\bin ([\d.]+)s\b")


def make_busy_repo(path: Path) -> None:
    """A package with one fix (#1) whose test file holds ``TESTS`` parametrized tests."""
    g = GitBuilder(path)
    g.commit("initial", {
        "setup.py": "from setuptools import setup\nsetup(name='busy', version='1.0', packages=['busy'])\n",
        "busy/__init__.py": "def total(n):\n    return sum(range(n)) + 1\n",
        "tests/test_base.py": "def test_base():\n    assert True\n"})
    g.commit("Make total exact (#1)", {
        "busy/__init__.py": "def total(n):\n    return sum(range(n))\n",
        "tests/test_busy.py": "import pytest\n\nfrom busy import total\n\n\n"
                              f"@pytest.mark.parametrize('n', range({TESTS}))\n"
                              "def test_total(n):\n    assert total(n + 20000) == sum(range(n + 20000))\n"})


UNITTEST_MODULE = "tests.test_busy_unittest"
UNITTEST_TESTS = ("import unittest\n\nfrom busy import total\n\n\n"
                  "class TotalTest(unittest.TestCase):\n    pass\n\n\n"
                  "def _make(n):\n    def test(self):\n"
                  "        self.assertEqual(total(n + 20000), sum(range(n + 20000)))\n"
                  "    return test\n\n\n"
                  f"for _n in range({TESTS}):\n"
                  "    setattr(TotalTest, 'test_total_%04d' % _n, _make(_n))\n")


class _NoGuard:
    """Stands in for ``RunGuard`` in the unguarded grades: no guard for any parser."""

    @staticmethod
    def for_parser(parser: str) -> None:
        return None


def unittest_row(row: dict) -> dict:
    """``row`` with its suite run by unittest's runner: a test module of ``TESTS`` methods
    added by its test_patch, every one of them FAIL_TO_PASS."""
    lines = UNITTEST_TESTS.splitlines()
    path = UNITTEST_MODULE.replace(".", "/") + ".py"
    added = (f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
             f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}\n" for line in lines))
    variant = dict(row)
    variant.update({"test_patch": row["test_patch"] + added, "swegc_log_parser": "unittest",
                    "swegc_parser_options": None,
                    "test_command": f"python -m unittest -v {UNITTEST_MODULE}",
                    "test_directives": [UNITTEST_MODULE], "PASS_TO_PASS": [],
                    "FAIL_TO_PASS": [f"{UNITTEST_MODULE}.TotalTest.test_total_{n:04d}"
                                     for n in range(TESTS)]})
    return variant


def grade_once(spec, patch: str, guarded: bool, log: Path) -> tuple[float, float]:
    """(wall seconds of the grade, seconds the runner reported for the tests: "in Xs")."""
    from swegc.runtime.harness import run
    from swegc.runtime.harness.grading import grade_patch
    from swegc.runtime.harness.tamper import RunGuard

    run.RunGuard = RunGuard if guarded else _NoGuard  # type: ignore[assignment,misc]
    try:
        start = time.monotonic()
        report = grade_patch(spec, patch, log_path=log)
        wall = time.monotonic() - start
    finally:
        run.RunGuard = RunGuard  # type: ignore[misc]
    if not report.resolved or report.tampered:
        raise SystemExit(f"the gold patch did not resolve ({'guarded' if guarded else 'unguarded'}): "
                         f"{report.run_problem or report.tamper_evidence}")
    found = _SECONDS.findall(log.read_text())
    return wall, float(found[-1]) if found else 0.0


def paired_runs(row: dict, rounds: int) -> dict:
    """Median seconds of the test command in one container, with and without the guard
    (loaded as ``Testbed.run`` loads it)."""
    from swegc.runtime.harness.guard import run_env, with_env
    from swegc.runtime.harness.tamper import RunGuard
    from swegc.runtime.sandbox import open_sandbox

    parser = row.get("swegc_log_parser") or "pytest"

    times: dict[str, list[float]] = {"guarded": [], "unguarded": []}
    cpu: dict[str, list[float]] = {"guarded": [], "unguarded": []}
    with open_sandbox(row["image"]) as box:
        box.write_file("/tmp/t.patch", row["test_patch"].encode())
        box.write_file("/tmp/f.patch", row["patch"].encode())
        box.execute("git apply /tmp/t.patch && git apply /tmp/f.patch", timeout_s=120)
        for index in range(rounds):
            for way in (("guarded", "unguarded") if index % 2 == 0 else ("unguarded", "guarded")):
                env, command = run_env(parser, "/tmp/bench/report.xml"), row["test_command"]
                guard = RunGuard.for_parser(parser) if way == "guarded" else None
                if guard is not None:
                    for path, text in guard.files().items():
                        box.write_file(path, text.encode())
                    env, command = guard.around(env), f"{guard.hook_command()}\n{command}"
                command = with_env(command, env)
                script = (f"TIMEFORMAT='%3R %3U %3S'; {{ time {{ {command} >/dev/null 2>&1; }} ; }} "
                          "2>&1 | tail -1")
                real, user, system = box.execute(script, timeout_s=600).output.split()[-3:]
                times[way].append(float(real))
                cpu[way].append(float(user) + float(system))
                if guard is not None:
                    box.execute(guard.unhook_command(), timeout_s=60)
    guarded, unguarded = (statistics.median(times[w]) for w in ("guarded", "unguarded"))
    guarded_cpu, unguarded_cpu = (statistics.median(cpu[w]) for w in ("guarded", "unguarded"))
    return {"guarded_median_s": round(guarded, 3), "unguarded_median_s": round(unguarded, 3),
            "guard_cost_s": round(guarded - unguarded, 3),
            "guard_cost_pct": round(100 * (guarded - unguarded) / unguarded, 2),
            # user+system CPU of the command and its children: what load beside it moves least
            "guarded_cpu_median_s": round(guarded_cpu, 3),
            "unguarded_cpu_median_s": round(unguarded_cpu, 3),
            "guard_cost_cpu_pct": round(100 * (guarded_cpu - unguarded_cpu) / unguarded_cpu, 2)}


def measure(work: Path, rounds: int, command_only: bool = False) -> dict:
    from swegc.dataset import read_dataset

    make_busy_repo(work / "busy")
    (work / "specs").mkdir()
    (work / "specs" / "busy.yaml").write_text(SPEC.format(clone=work / "busy"))
    run_compile(work / "specs", work / "build")
    [row] = [r for r in read_dataset(work / "build")]
    if command_only:
        return {"test_command_in_one_container": paired_runs(row, rounds),
                "unittest": {"test_command_in_one_container": paired_runs(unittest_row(row), rounds)}}
    out = measure_row(row, work, rounds)
    out["unittest"] = measure_row(unittest_row(row), work, rounds)
    return out


def measure_row(row: dict, work: Path, rounds: int) -> dict:
    """The figures above for one row: grades each way, then the command alone each way."""
    from swegc.runtime.harness.test_spec import TestSpec

    spec = TestSpec.from_row(row)
    walls: dict[str, list[float]] = {"guarded": [], "unguarded": []}
    tests: dict[str, list[float]] = {"guarded": [], "unguarded": []}
    grade_once(spec, row["patch"], True, work / "warm.log")  # the image's page cache, warm
    for index in range(rounds):
        for way in (("guarded", "unguarded") if index % 2 == 0 else ("unguarded", "guarded")):
            wall, in_tests = grade_once(spec, row["patch"], way == "guarded", work / f"{way}.log")
            walls[way].append(wall)
            tests[way].append(in_tests)
    out: dict = {"tests_in_suite": len(row["FAIL_TO_PASS"]) + len(row["PASS_TO_PASS"]),
                 "rounds": rounds}
    for way in walls:
        out[way] = {"grade_mean_s": round(statistics.mean(walls[way]), 3),
                    "grade_median_s": round(statistics.median(walls[way]), 3),
                    "runner_mean_s": round(statistics.mean(tests[way]), 3)}
    base, guarded = out["unguarded"]["grade_mean_s"], out["guarded"]["grade_mean_s"]
    out["guard_cost_s"] = round(guarded - base, 3)
    out["guard_cost_pct_of_grade"] = round(100 * (guarded - base) / base, 2)
    out["guard_cost_pct_of_runner"] = round(
        100 * (out["guarded"]["runner_mean_s"] - out["unguarded"]["runner_mean_s"])
        / out["unguarded"]["runner_mean_s"], 2)
    base_median = out["unguarded"]["grade_median_s"]
    out["guard_cost_pct_of_grade_median"] = round(
        100 * (out["guarded"]["grade_median_s"] - base_median) / base_median, 2)
    out["test_command_in_one_container"] = paired_runs(row, rounds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "guard.json"))
    parser.add_argument("--command-only", action="store_true",
                        help="only the test commands in one container (no whole grades)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swegc-guard-bench-") as tmp:
        results = measure(Path(tmp), args.rounds, args.command_only)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
