"""The pytest log parser: ``-rA`` short test summary lines and ``-v`` progress lines.

Test ids are pytest node ids exactly as pytest prints them (``tests/t.py::TestC::test_z[x::y]``,
with non-ASCII parameters escaped as pytest escapes them unless the project turns that off).
Parameters may hold anything, spaces, `` - ``, ``::`` and brackets included, so an id is never
cut at the first space: the `` - message`` pytest appends to FAILED/ERROR/XFAIL lines is removed
only where it stands outside the id's brackets.

Both output forms are read and merged, the short summary winning: it is what SWE-bench reads,
and it shows ERROR-at-teardown after PASSED. The verbose lines still add what the summary lacks
(SKIPPED tests, whose summary lines carry a file:line instead of an id).
"""

from __future__ import annotations

import re

from swegc.runtime.harness.parsers import (ERROR, FAILED, PASSED, SKIPPED, STATUSES, XFAIL, XPASS,
                                    ParseResult, log_lines, shell_broken_exit)

_STATUS = "|".join(STATUSES)
_SUMMARY_LINE = re.compile(rf"^(?P<status>{_STATUS}) (?P<rest>\S.*)$")
_VERBOSE_LINE = re.compile(rf"^(?P<id>\S.*::.*?) (?P<status>{_STATUS})(?: \(.*\))?(?:\s+\[\s*\d+%\])?$")
_XDIST_LINE = re.compile(rf"^\[gw\d+\](?: \[\s*\d+%\])? (?P<status>{_STATUS}) (?P<id>\S.*::.*)$")
_SUMMARY_HEADER = re.compile(r"^=+ short test summary info =+$")
_COLLECTING = re.compile(r"^_+ ERROR collecting (?P<id>.+?) _+$")
_INTERRUPTED = re.compile(r"^!+ Interrupted: \d+ errors? during collection !+$")
_COUNT = r"\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|rerun|selected)"
_FINAL = re.compile(rf"^(?:=+ )?(?:no tests ran|{_COUNT}(?:, {_COUNT})*) in [\d.]+ ?s(?:econds)?"
                    r"(?: \([\d:]+\))?(?: =+)?$")
# The session header: "platform linux -- Python 3.6.15, pytest-3.5.1, py-1.11.0, pluggy-0.6.0".
_PLATFORM = re.compile(r"^platform \S+ -- Python (?P<python>\S+?),? pytest-(?P<pytest>[^\s,]+)")
_SKIP_LOCATION = re.compile(r"^(?:\[\d+\] )?(?P<rest>.*)$")
_FILE_LINE = re.compile(r"^[^:]+:\d+: ")
_RANK = {PASSED: 0, XFAIL: 0, SKIPPED: 0, XPASS: 1, FAILED: 2, ERROR: 2}
_BROKEN = {3: "pytest hit an internal error",
           4: "pytest was called wrongly: usage error or a test path that does not exist",
           5: "pytest collected no tests"}


def split_node_id(rest: str, known: set[str] | frozenset[str] = frozenset(), sep: str = " - ") -> str:
    """The node id at the start of ``rest``, without the `` - message`` pytest may append.

    A `` - `` counts as the separator only outside brackets and where what precedes it can end a
    node id (no parameters, or parameters closed by ``]``). Ids already seen in verbose lines are
    preferred, longest first, so that even unbalanced brackets in parameters come out whole.
    """
    for candidate in sorted((k for k in known if rest.startswith(k)), key=len, reverse=True):
        tail = rest[len(candidate):]
        if not tail or tail.startswith(sep):
            return candidate
    positions = [m.start() for m in re.finditer(re.escape(sep), rest)]
    if not positions:
        return rest
    for pos in positions:
        prefix = rest[:pos]
        if _depth(prefix) == 0 and ("[" not in prefix or prefix.endswith("]")):
            return prefix
    for pos in positions:
        if rest[:pos].endswith("]"):
            return rest[:pos]
    return rest[:positions[0]] if "[" not in rest[:positions[0]] else rest


def _depth(text: str) -> int:
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    return depth


def _worse(old: str | None, new: str) -> str:
    """Of two summary statuses for one test (call, then teardown), the worse; ties go to the later."""
    return new if old is None or _RANK[new] >= _RANK[old] else old


class PytestParser:
    """Reads pytest's output; run pytest with ``-rA`` (``-v`` optional, both are merged)."""

    name = "pytest"
    directive_style = "paths"

    def parse(self, log: str) -> ParseResult:
        lines = log_lines(log)
        verbose: dict[str, str] = {}
        summary: dict[str, str] = {}
        collection: set[str] = set()
        summary_seen = interrupted = False
        final, runner = "", ""
        has_header = any(_SUMMARY_HEADER.match(line) for line in lines)
        in_summary = not has_header
        for line in lines:
            if _SUMMARY_HEADER.match(line):
                in_summary = True
                continue
            if _FINAL.match(line):
                summary_seen = True
                final = line.strip("= ")
                in_summary = not has_header
                continue
            if not runner and (match := _PLATFORM.match(line)):
                runner = f"pytest {match['pytest']}, Python {match['python']}"
            elif match := _COLLECTING.match(line):
                collection.add(match["id"])
            elif _INTERRUPTED.match(line):
                interrupted = True
            elif match := _XDIST_LINE.match(line):
                verbose[match["id"]] = match["status"]
            elif match := _VERBOSE_LINE.match(line):
                verbose[match["id"]] = match["status"]
            elif in_summary and (match := _SUMMARY_LINE.match(line)):
                self._summary_line(match["status"], match["rest"], set(verbose), summary, collection)
        if interrupted and not collection:
            collection.add("<collection>")
        for file in collection:
            if "::" not in file:
                summary.setdefault(file, ERROR)
        return ParseResult({**verbose, **summary}, tuple(sorted(collection)), summary_seen,
                           final, runner)

    @staticmethod
    def _summary_line(status: str, rest: str, known: set[str], summary: dict[str, str],
                      collection: set[str]) -> None:
        if status == SKIPPED:
            rest = _SKIP_LOCATION.match(rest)["rest"]  # type: ignore[index]
            if _FILE_LINE.match(rest) or "::" not in rest:
                return  # "SKIPPED [1] tests/t.py:12: reason" names no test
            node = split_node_id(rest, known, sep=": ")
        else:
            node = split_node_id(rest, known)
        if status == ERROR and "::" not in node:
            collection.add(node)
        summary[node] = _worse(summary.get(node), status)

    def broken_exit(self, exit_code: int) -> str | None:
        return _BROKEN.get(exit_code) or shell_broken_exit(exit_code)
