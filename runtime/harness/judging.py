"""From test runs to FAIL_TO_PASS, PASS_TO_PASS and flaky tests, or a rejection reason.

before = base_commit + test_patch, after = base_commit + test_patch + patch, each run N times.
- FAIL_TO_PASS: fails, errors or is absent in every before-run, passes in every after-run.
- PASS_TO_PASS: passes in every before-run and every after-run.
- Flaky: its outcome differs between runs of the same side; recorded, never in F2P/P2P.
A run also has to have happened properly: the exit code must agree with the parsed results
and the runner's closing summary must be there, or the instance is rejected with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swegc.runtime.harness.parsers import ERROR, FAILED, PASSING, SKIPPED, XPASS, LogParser, ParseResult

PASS, FAIL, SKIP, ABSENT = "pass", "fail", "skip", "absent"


@dataclass(frozen=True)
class ObservedRun:
    side: str  # "before" | "after"
    attempt: int
    exit_code: int
    duration_s: float
    parsed: ParseResult
    timed_out: bool = False


@dataclass(frozen=True)
class RunProblem:
    reason: str
    detail: str


@dataclass
class Judgement:
    FAIL_TO_PASS: list[str] = field(default_factory=list)
    PASS_TO_PASS: list[str] = field(default_factory=list)
    PASS_TO_FAIL: list[str] = field(default_factory=list)
    flaky_tests: list[str] = field(default_factory=list)
    # Absent before only because another file's collection error stopped the session.
    unknown_before: list[str] = field(default_factory=list)
    reason: str | None = None
    detail: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None


def outcome(status: str | None) -> str:
    if status is None:
        return ABSENT
    if status in PASSING:
        return PASS
    if status == SKIPPED:
        return SKIP
    return FAIL


def check_run(run: ObservedRun, parser: LogParser) -> RunProblem | None:
    """Whether a single run is trustworthy enough to judge from."""
    where = f"{run.side} run {run.attempt}"
    if run.timed_out:
        return RunProblem("timeout", f"{where} hit the time limit")
    broken = parser.broken_exit(run.exit_code)
    if broken:
        return RunProblem("suite_did_not_run", f"{where}: {broken} (exit {run.exit_code})")
    parsed = run.parsed
    if not parsed.statuses and not parsed.collection_errors:
        return RunProblem("suite_did_not_run",
                          f"{where}: no test results in the output (exit {run.exit_code})")
    if not parsed.summary_seen:
        return RunProblem("suite_incomplete",
                          f"{where}: the runner's closing summary is missing (crashed or killed?)")
    if run.side == "after" and parsed.collection_errors:
        return RunProblem("after_collection_error",
                          f"{where}: could not collect {', '.join(parsed.collection_errors)}; "
                          "the error hides the tests in it")
    # XPASS is "not passing" for F2P, and runners disagree on its exit code: pytest exits 0 on a
    # non-strict XPASS, unittest exits 1 on an unexpected success. It decides neither way.
    failing = [t for t, s in parsed.statuses.items() if s in (FAILED, ERROR)]
    unexpected = [t for t, s in parsed.statuses.items() if s == XPASS]
    if run.exit_code == 0 and (failing or parsed.collection_errors):
        return RunProblem("exit_code_mismatch",
                          f"{where}: exit code 0 but {len(failing)} failing test(s) were parsed, "
                          f"e.g. {failing[:1]}")
    if run.exit_code != 0 and not failing and not unexpected and not parsed.collection_errors:
        return RunProblem("exit_code_mismatch",
                          f"{where}: exit code {run.exit_code} but every parsed test passed "
                          "(a crash, a plugin error or a coverage threshold?)")
    return None


def _in_module(test: str, module: str) -> bool:
    """Whether a test id belongs to a file or module that failed to collect."""
    return (test == module or test.startswith(module + "::") or test.startswith(module + ".")
            or f"({module}." in test)


def _unknown_before(test: str, before: list[ObservedRun]) -> bool:
    """A test absent from a before-run that collected nothing at all (pytest stops the whole
    session on a collection error) is not known to fail: only its own file's error says so."""
    for run in before:
        parsed = run.parsed
        if test in parsed.statuses or not parsed.collection_errors:
            continue
        ran = [t for t in parsed.statuses if not any(t == m for m in parsed.collection_errors)]
        if not ran and not any(_in_module(test, m) for m in parsed.collection_errors):
            return True
    return False


def judge(before: list[ObservedRun], after: list[ObservedRun], parser: LogParser) -> Judgement:
    for run in [*before, *after]:
        problem = check_run(run, parser)
        if problem:
            return Judgement(reason=problem.reason, detail=problem.detail)
    tests = sorted({t for run in [*before, *after] for t in run.parsed.statuses})
    result = Judgement()
    for test in tests:
        if _unknown_before(test, before):
            result.unknown_before.append(test)
            continue
        before_outcomes = {outcome(r.parsed.statuses.get(test)) for r in before}
        after_outcomes = {outcome(r.parsed.statuses.get(test)) for r in after}
        if len(before_outcomes) > 1 or len(after_outcomes) > 1:
            result.flaky_tests.append(test)
            continue
        (b,), (a,) = before_outcomes, after_outcomes
        if a == PASS and b in (FAIL, ABSENT):
            result.FAIL_TO_PASS.append(test)
        elif a == PASS and b == PASS:
            result.PASS_TO_PASS.append(test)
        elif b == PASS and a in (FAIL, ABSENT):
            result.PASS_TO_FAIL.append(test)
    if not result.FAIL_TO_PASS:
        result.reason = "no_fail_to_pass"
        flaky = f" ({len(result.flaky_tests)} flaky test(s) excluded)" if result.flaky_tests else ""
        if result.unknown_before:
            flaky += (f" ({len(result.unknown_before)} test(s) never ran before the fix: a "
                      "collection error stopped the session)")
        result.detail = f"no test fails before the fix and passes after it{flaky}"
    return result
