"""From test runs to FAIL_TO_PASS, PASS_TO_PASS and flaky tests, or a rejection reason.

before = base_commit + test_patch, after = base_commit + test_patch + patch, each run N times.
- FAIL_TO_PASS: fails, errors or is absent in every before-run, passes in every after-run.
- PASS_TO_PASS: passes in every before-run and every after-run.
- Flaky: its outcome differs between runs of the same side; recorded, never in F2P/P2P.
A run also has to have happened properly (``trust.check_run``): the exit code must agree with
the parsed results and the runner's closing summary must be there, or the instance is rejected
with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swegc.runtime.harness.parsers import PASSING, SKIPPED, LogParser
from swegc.runtime.harness.trust import ObservedRun, check_run

PASS, FAIL, SKIP, ABSENT = "pass", "fail", "skip", "absent"


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
