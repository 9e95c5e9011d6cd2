"""Whether a test run's results can be believed, and the statuses that can.

Code under test runs inside the test process and can print anything, at import, at exit
(``atexit``) or straight to file descriptors 1 and 2: a line that looks like a result is not
one. So a run's results count only when the channels agree:

- the exit code agrees with the parsed results and the runner's closing summary is there
  (``check_run``, the same rule compile's validation applies);
- for pytest, the counts in the final ``N passed, M failed in Xs`` line equal the result lines
  of the runner's own short test summary section exactly (lines elsewhere do not count), and
  the exit code agrees with the JUnit XML report pytest wrote to a fresh random path;
- a test passes only when the log and the JUnit report both say it passed.

The run procedure (``run``) applies the first check to every run and ``cross_check`` the others
to a run that passes it. A run that fails them is not an infrastructure error: a graded patch
is unresolved and the report says why (``GradeReport.run_problem``); in validation the
instance is rejected (``results_disagree``, or judging's own reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from swegc.reasons import Reason
from swegc.runtime.harness.parsers import (ERROR, FAILED, PASSED, PASSING, SKIPPED, XFAIL, XPASS,
                                           LogParser, ParseResult, log_lines)

_HEADER = re.compile(r"^=+ short test summary info =+$")
_RESULT = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (?:\[(\d+)\] )?\S")
_FINAL = re.compile(r"^=*\s*(?P<counts>(?:no tests ran|\d+ \w+(?:, \d+ \w+)*)) in [\d.]+ ?s"
                    r"(?:econds)?(?: \([\d:]+\))?\s*=*$")
_COUNT = re.compile(r"(\d+) (\w+)")
_COUNTED = re.compile(r"\b[1-9]\d* (?:passed|failed|errors?)\b")  # a summary that ran tests
_WORDS = {"passed": PASSED, "failed": FAILED, "error": ERROR, "errors": ERROR,
          "skipped": SKIPPED, "xfailed": XFAIL, "xpassed": XPASS}
_RANK = {PASSED: 0, XFAIL: 0, SKIPPED: 1, XPASS: 2, FAILED: 3, ERROR: 3}


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


def check_run(run: ObservedRun, parser: LogParser) -> RunProblem | None:
    """Whether a single run is trustworthy enough to judge from."""
    where = f"{run.side} run {run.attempt}"
    if run.timed_out:
        return RunProblem("timeout", f"{where} hit the time limit")
    broken = parser.broken_exit(run.exit_code)
    if broken:
        return RunProblem("suite_did_not_run", f"{where}: {broken} (exit {run.exit_code})")
    parsed = run.parsed
    if not parsed.statuses and not parsed.collection_errors and _COUNTED.search(parsed.summary):
        return RunProblem(Reason.NO_PER_TEST_RESULTS, no_per_test_results(where, run, parser))
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


def no_per_test_results(where: str, run: ObservedRun, parser: LogParser) -> str:
    """What a run that closed with its counts but named no test printed, which runner printed
    it, and how to make it name each test: the test command's problem, not the instance's."""
    parsed = run.parsed
    said = f" ({parsed.summary!r})" if parsed.summary else ""
    runner = f" by {parsed.runner}" if parsed.runner else ""
    if parser.name == "pytest":
        fix = ("add -v to tests.command (every pytest prints a line per test with it; an old "
               "pytest ignores the A of -rA), or a report option this pytest knows, such as "
               "-rfEp")
    else:
        fix = ("make tests.command print a line per test (a verbose option, such as -v), or "
               "read a JUnit report with a regex parser")
    return (f"{where}: the runner printed its summary{said} but no per-test results{runner} "
            f"(exit {run.exit_code}); {fix}")


@dataclass(frozen=True)
class TrustedRun:
    """The statuses that count (empty when the run is not believed) and why not, if so."""

    statuses: dict[str, str]
    problem: str | None = None


def junit_key(nodeid: str) -> tuple[str, str]:
    """The (classname, name) pytest's JUnit XML gives a node id (its ``mangle_test_address``)."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def junit_statuses(xml_text: str) -> dict[tuple[str, str], str] | None:
    """Status of every testcase in a JUnit XML report, keyed by (classname, name); None when
    the text is not such a report."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return None
    if root.tag not in ("testsuites", "testsuite"):
        return None
    found: dict[tuple[str, str], str] = {}
    for case in root.iter("testcase"):
        status = PASSED
        for child in case:
            if child.tag == "failure":
                status = _worse(status, FAILED)
            elif child.tag == "error":
                status = _worse(status, ERROR)
            elif child.tag == "skipped":
                status = _worse(status, XFAIL if child.get("type") == "pytest.xfail" else SKIPPED)
        key = (case.get("classname", ""), case.get("name", ""))
        found[key] = _worse(found[key], status) if key in found else status
    return found


def _worse(a: str, b: str) -> str:
    return b if _RANK[b] >= _RANK[a] else a


def summary_problem(log: str) -> str | None:
    """Whether pytest's final counts equal the result lines of its own summary section.

    The section is the last ``short test summary info`` block, up to the final counts line that
    closes it; nothing printed after that line (an ``atexit`` hook) or before the header counts.
    """
    lines = log_lines(log)
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    if not headers:
        return None  # a run without -rA: the JUnit report and the exit code decide alone
    start = headers[-1]
    end = next((i for i in range(start + 1, len(lines)) if _FINAL.match(lines[i])), None)
    if end is None:
        return "the short test summary is not closed by pytest's final counts line"
    if any(_FINAL.match(line) for line in lines[end + 1:]):
        return "more than one final counts line after the short test summary"
    listed: dict[str, int] = {}
    for line in lines[start + 1:end]:
        if match := _RESULT.match(line):
            listed[match[1]] = listed.get(match[1], 0) + int(match[2] or 1)
    counted: dict[str, int] = {}
    for number, word in _COUNT.findall(_FINAL.match(lines[end])["counts"]):  # type: ignore[index]
        if word in _WORDS:
            counted[_WORDS[word]] = counted.get(_WORDS[word], 0) + int(number)
    if listed != counted:
        return (f"the final counts {_fmt(counted)} do not match the summary's result lines "
                f"{_fmt(listed)}")
    return None


def _fmt(counts: dict[str, int]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + "}"


def cross_check(parser: LogParser, parsed: ParseResult, log: str, exit_code: int,
                junit_xml: str | None) -> TrustedRun:
    """For pytest, the log's statuses checked against pytest's summary counts and JUnit
    report (a test the log says passed and the report does not takes the report's status);
    other runners' statuses as parsed."""
    if parser.name != "pytest":
        return TrustedRun(dict(parsed.statuses))
    if junit_xml is None:
        return TrustedRun({}, "pytest wrote no JUnit report (was the run cut short, or the "
                              "report removed?)")
    junit = junit_statuses(junit_xml)
    if junit is None:
        return TrustedRun({}, "pytest's JUnit report cannot be read")
    problem_text = summary_problem(log)
    if problem_text:
        return TrustedRun({}, problem_text)
    junit_failing = sum(1 for s in junit.values() if s in (FAILED, ERROR))
    if exit_code == 0 and junit_failing:
        return TrustedRun({}, f"exit code 0 but the JUnit report has {junit_failing} failing "
                              "test(s)")
    statuses: dict[str, str] = {}
    for test, status in parsed.statuses.items():
        other = junit.get(junit_key(test))
        if status in PASSING and (other is None or other not in PASSING):
            status = other or FAILED  # the log says it passed; pytest's report does not
        statuses[test] = status
    return TrustedRun(statuses)
