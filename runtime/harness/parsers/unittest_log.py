"""unittest's verbose output (``python -m unittest -v``), and Django's (``runtests.py -v 2``).

Both print one progress line per test, ``test_a (pkg.mod.Class) ... ok`` (before Python 3.11)
or ``test_a (pkg.mod.Class.test_a) ... ok`` (3.11 and later), with these variants:

- a docstring's first line printed on its own line between the name and `` ... ok``;
- the test's own output printed between `` ... `` and the result, over several lines;
- a failing subTest printed as an indented ``test_a (...) (i=1) ... FAIL`` line (3.11+) or
  not at all (before 3.11), where only the ``FAIL: test_a (...) (i=1)`` section tells;
- ``ERROR: setUpClass (pkg.mod.Class)`` (the class's tests never ran: a collection error of that
  class) and ``ERROR: test_mod (unittest.loader._FailedTest)`` (a module that does not import).

The ``FAIL:``/``ERROR:`` sections after the run are authoritative for failing tests. The closing
``Ran N tests in Xs`` followed by ``OK``/``FAILED (...)``/``NO TESTS RAN`` sets ``summary_seen``.

Test ids: the ``unittest`` parser gives dotted ids, ``pkg.mod.Class.test_a``; the ``django``
parser gives SWE-bench's Django ids, ``test_a (pkg.mod.Class)``, whichever Python printed the
log (so 3.11's ``(pkg.mod.Class.test_a)`` is normalised). Fixture errors get the id of the
fixture: ``pkg.mod.Class.setUpClass`` / ``setUpClass (pkg.mod.Class)``.
"""

from __future__ import annotations

import re

from swegc.runtime.harness.parsers import (ERROR, FAILED, PASSED, SKIPPED, XFAIL, XPASS, ParseResult,
                                    log_lines, shell_broken_exit)

_NAME = r"(?P<name>[A-Za-z_][\w.]*) \((?P<target>[A-Za-z_][\w]*(?:\.\w+)+)\)(?P<sub> \(.*?\))?"
_PROGRESS = re.compile(rf"^(?P<indent>\s*){_NAME}(?: \.\.\. ?(?P<rest>.*)|$)")
_SECTION = re.compile(rf"^(?P<kind>ERROR|FAIL|UNEXPECTED SUCCESS): {_NAME}$")
_RESULT = re.compile(r"^(?:ok|FAIL|ERROR|skipped(?: .*)?|expected failure|unexpected success)$")
_RESULT_AT_END = re.compile(r"(?:ok|FAIL|ERROR|expected failure|unexpected success)$")
_RAN = re.compile(r"^Ran \d+ tests? in [\d.]+s$")
_CLOSING = re.compile(r"^(?:OK|FAILED|NO TESTS RAN)(?: \(.*\))?$")
_FAILED_IMPORT = ("unittest.loader._FailedTest", "unittest.loader.ModuleImportFailure")
_SETUP_FIXTURES = ("setUpClass", "setUpModule")
_FIXTURES = _SETUP_FIXTURES + ("tearDownClass", "tearDownModule", "_ErrorHolder")
_WORDS = {"ok": PASSED, "FAIL": FAILED, "ERROR": ERROR, "skipped": SKIPPED,
          "expected failure": XFAIL, "unexpected success": XPASS}
_SECTION_STATUS = {"ERROR": ERROR, "FAIL": FAILED, "UNEXPECTED SUCCESS": XPASS}


def _word(result: str) -> str:
    return _WORDS["skipped" if result.startswith("skipped") else result]


class _Reader:
    """The progress-line state machine of one log: which test still waits for its result."""

    def __init__(self, test_id) -> None:
        self.test_id = test_id
        self.statuses: dict[str, str] = {}
        self.collection: set[str] = set()
        self.pending: str | None = None  # a test whose result has not been printed yet
        self.awaiting_doc = False  # its name line had no " ... ": a docstring line comes next
        self.tail = ""  # the last output line while pending (a result printed without newline)

    def settle(self) -> None:
        """Closes the pending test, taking a result glued to the end of its output if any."""
        if self.pending is not None and self.pending not in self.statuses:
            if end := _RESULT_AT_END.search(self.tail):
                self.statuses[self.pending] = _word(end.group(0))
        self.pending, self.awaiting_doc, self.tail = None, False, ""

    def line(self, line: str) -> None:
        rest: str | None = line
        while rest is not None:
            rest = self._read(rest)

    def _read(self, line: str) -> str | None:
        """Reads a line (or what follows a result-less name); returns text still to read."""
        match = _PROGRESS.match(line)
        if match is None:
            self._output(line)
            return None
        if match["sub"] or (match["indent"] and self.pending is not None):
            rest = (match["rest"] or "").strip()  # a subtest: its failure is its parent's
            if _RESULT.match(rest) and _word(rest) in (FAILED, ERROR):
                self.statuses[self.test_id(match["name"], match["target"])] = _word(rest)
            return None
        self.settle()
        name, target, rest = match["name"], match["target"], match["rest"]
        if target.startswith(_FAILED_IMPORT):
            self.collection.add(name)
            self.statuses[name] = ERROR
            return None
        test = self.test_id(name, target)
        if rest is None:
            self.pending, self.awaiting_doc = test, True
            return None
        rest = rest.strip()
        if _RESULT.match(rest):
            self.statuses[test] = _word(rest)
        elif _PROGRESS.match(rest):
            return rest  # Python < 3.11 prints no result for a test whose subtest failed
        else:
            self.pending, self.tail = test, rest
        return None

    def _output(self, line: str) -> None:
        if self.pending is None:
            return
        if self.awaiting_doc:
            self.awaiting_doc = False
            if " ..." not in line:
                self.pending = None  # the name line was not a test's after all
                return
            line = line.split(" ...", 1)[1]
        line = line.strip()
        if _RESULT.match(line):
            self.statuses[self.pending] = _word(line)
            self.pending, self.tail = None, ""
        elif line:
            self.tail = line


class UnittestParser:
    """Dotted ids: ``pkg.mod.Class.test_a``; test labels are modules (``pkg.test_mod``)."""

    name = "unittest"
    directive_style = "modules"

    def test_id(self, name: str, target: str) -> str:
        """The id of test ``name`` printed with ``target`` (its class, or 3.11's full id)."""
        return target if target.endswith("." + name) else f"{target}.{name}"

    def parse(self, log: str) -> ParseResult:
        reader = _Reader(self.test_id)
        sections: dict[str, str] = {}
        ran = summary_seen = False
        for line in log_lines(log):
            if _RAN.match(line):
                reader.settle()
                ran = True
            elif ran and _CLOSING.match(line):
                summary_seen = True
            elif section := _SECTION.match(line):
                reader.settle()
                self._section(section, sections, reader.collection)
            else:
                reader.line(line)
        reader.settle()
        statuses = {**reader.statuses, **sections}
        return ParseResult(statuses, tuple(sorted(reader.collection)), summary_seen)

    def _section(self, match: re.Match[str], sections: dict[str, str], collection: set[str]) -> None:
        """A ``FAIL:``/``ERROR:`` section header: the final word on that test."""
        name, target = match["name"], match["target"]
        if target.startswith(_FAILED_IMPORT):
            collection.add(name)
            sections[name] = ERROR
        elif name in _FIXTURES:
            if name in _SETUP_FIXTURES:
                collection.add(target)
            sections[self.test_id(name, target)] = ERROR
        else:
            sections[self.test_id(name, target)] = _SECTION_STATUS[match["kind"]]

    def broken_exit(self, exit_code: int) -> str | None:
        if exit_code == 2:
            return "the test runner was called wrongly or its file was not found"
        if exit_code == 5:
            return "no tests ran"
        return shell_broken_exit(exit_code)


class DjangoParser(UnittestParser):
    """Django's ``runtests.py -v 2``: unittest's format, ids ``test_a (pkg.mod.Class)``."""

    name = "django"
    directive_style = "modules"

    def test_id(self, name: str, target: str) -> str:
        if target.endswith("." + name):
            target = target[: -len(name) - 1]
        return f"{name} ({target})"

    def broken_exit(self, exit_code: int) -> str | None:
        if exit_code == 2:
            return "runtests.py was called wrongly or was not found"
        return shell_broken_exit(exit_code)
