"""A synthetic task's problem statement: what a user would report, read from the failing tests.

The text is made from the bugged side's first test log alone, so it is the same every time for
the same log: the failing tests' names, and for the first few their assertion messages and the
lines of the traceback that are in test code (the asserting line, expected against actual), as
an issue would quote them. Frames in the changed files give only their exception messages:
their source lines and locations would point at the changed line; any line that is a line the
bug added or removed is left out wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

DETAILED = 3  # failing tests shown with their messages
MAX_LINES = 14  # of one test's excerpt
_SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")
_BANNER = re.compile(r"^={3,} (.+?) ={3,}$")
_FRAME_SEPARATOR = re.compile(r"^(_ ){5,}_?$")
_LOCATION = re.compile(r"^(\S+?):(\d+): (.*)$")
_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$")


def problem_statement(fail_to_pass: Sequence[str], log: str, bug_patch: str,
                      changed_files: Sequence[str]) -> str:
    """The issue-like text for a task whose FAIL_TO_PASS tests are ``fail_to_pass``."""
    tests = sorted(fail_to_pass)
    secret = _changed_lines(bug_patch)
    sections = _failure_sections(log)
    messages = _summary_messages(log)
    more = f" (and {len(tests) - 1} more)" if len(tests) > 1 else ""
    lines = [f"{_short(tests[0])} fails{more}", "",
             f"After the latest changes, {len(tests)} test{'s' if len(tests) != 1 else ''} "
             f"of the suite fail{'s' if len(tests) == 1 else ''}:", ""]
    lines += [f"- `{test}`" for test in tests]
    for test in tests[:DETAILED]:
        excerpt = _excerpt(sections.get(_section_name(test), []), secret, changed_files)
        if not excerpt and messages.get(test):
            excerpt = [line for line in [f"E   {messages[test]}"] if _clean(line, secret)]
        if excerpt:
            lines += ["", f"`{test}`:", "", "```", *excerpt[:MAX_LINES], "```"]
    lines += ["", "These tests should pass: the behaviour they check is what the code is meant "
              "to do. Please find the cause and fix it without changing the tests."]
    return "\n".join(lines) + "\n"


def _short(test: str) -> str:
    return test.rsplit("::", 1)[-1]


def _section_name(test: str) -> str:
    """The name pytest puts in a failure's header: ``Class.test`` or ``test[param]``."""
    return ".".join(test.split("::")[1:]) or test


def _changed_lines(bug_patch: str) -> set[str]:
    out = set()
    for line in bug_patch.splitlines():
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            text = line[1:].strip()
            if len(text) > 2:
                out.add(text)
    return out


def _failure_sections(log: str) -> dict[str, list[str]]:
    """pytest's FAILURES and ERRORS sections: the header's name -> its lines."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    inside = False
    for line in log.splitlines():
        banner = _BANNER.match(line)
        if banner:
            inside = banner.group(1) in ("FAILURES", "ERRORS")
            current = None
            continue
        if not inside:
            continue
        header = _SECTION.match(line)
        if header:
            name = header.group(1).removeprefix("ERROR at setup of ").removeprefix(
                "ERROR at teardown of ")
            current = sections.setdefault(name, [])
            continue
        if current is not None:
            current.append(line)
    return sections


def _summary_messages(log: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in log.splitlines():
        match = _SUMMARY.match(line.strip())
        if match and match.group(3):
            out.setdefault(match.group(2), match.group(3))
    return out


def _excerpt(section: list[str], secret: set[str], changed: Sequence[str]) -> list[str]:
    """The lines of one failure worth quoting: per frame, in test code its asserting line and
    messages and its location; in a changed file its messages only."""
    frames: list[list[str]] = [[]]
    for line in section:
        if _FRAME_SEPARATOR.match(line.strip()):
            frames.append([])
        else:
            frames[-1].append(line)
    out: list[str] = []
    for frame in frames:
        location = next((m for m in map(_LOCATION.match, reversed(frame)) if m), None)
        in_changed = location is not None and location.group(1) in changed
        for line in frame:
            if line.startswith("E "):
                keep = True
            elif line.startswith(">") or (location and line == location.group(0)):
                keep = not in_changed
            else:
                keep = False
            if keep and _clean(line, secret):
                out.append(line.rstrip())
    return out


def _clean(line: str, secret: set[str]) -> bool:
    """False for a line that shows a line the bug added or removed."""
    text = line.lstrip(">E ").strip()
    return text not in secret and not any(s in text for s in secret if len(s) > 12)
