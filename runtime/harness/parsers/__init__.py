"""Test log parsers: the interface, the statuses, and the registry by short name.

A parser turns the text a test command printed into a status per test id. Validation compares
these statuses across runs (before/after the patch, N times each), so a parser must give the
same id to the same test in every run and must never cut an id short: a truncated id would
silently merge two tests or make an F2P test unrunnable later.

Besides statuses, a parser says whether the runner reached its closing summary (a run that died
half-way must not look like a run where the missing tests "failed") and which files or modules
could not even be collected (such an error hides tests that have nothing to do with the patch).

Each parser lives in its own module (``pytest_log``, ``unittest_log``, ``regex_log``);
this module holds what they share. ``PARSERS`` is built on first use (PEP 562 module
``__getattr__``) so that the parser modules can import the shared names from here without an
import cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from swegc.errors import SwegcError

PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS = "PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"
STATUSES = (PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS)
PASSING = frozenset({PASSED, XFAIL})  # SWE-bench's notion of a passing test

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass(frozen=True)
class ParseResult:
    """What one test log says.

    ``statuses`` maps a test id to one of ``STATUSES``; ``collection_errors`` names the files or
    modules that could not be imported or collected (sorted, no duplicates); ``summary_seen`` is
    true when the runner printed its closing summary, i.e. the suite ran to the end.
    ``summary`` is that summary as printed and ``runner`` the runner and its version as the
    log's header names them (``pytest 3.5.1, Python 3.6.15``), where the parser reads them: a
    run with a summary and no per-test results is then explained by what ran.
    """

    statuses: dict[str, str]
    collection_errors: tuple[str, ...] = ()
    summary_seen: bool = False
    # What the log says about itself, not about the tests: not compared.
    summary: str = field(default="", compare=False)
    runner: str = field(default="", compare=False)


class LogParser(Protocol):
    """One way of reading a test runner's output.

    ``directive_style`` says how test files are passed on the command line: ``"paths"``
    (``tests/test_x.py``) or ``"modules"`` (``tests.test_x``, Django's labels).
    """

    name: str
    directive_style: str

    def parse(self, log: str) -> ParseResult:
        """Statuses, collection errors and whether the summary was reached."""
        ...

    def broken_exit(self, exit_code: int) -> str | None:
        """A reason when ``exit_code`` says the runner itself failed (not the tests), else None.

        The reason does not repeat the exit code: callers add it where they report the reason.
        """
        ...


def strip_ansi(text: str) -> str:
    """The log without colour codes; runners colour their output when they think it's a tty."""
    return _ANSI.sub("", text)


def log_lines(log: str) -> list[str]:
    """Lines without colour codes, carriage returns or trailing blanks."""
    return [line.rstrip() for line in strip_ansi(log).replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def shell_broken_exit(exit_code: int) -> str | None:
    """Exit codes that mean the shell could not start the command at all (any runner)."""
    if exit_code == 126:
        return "the test command is not executable"
    if exit_code == 127:
        return "the test command was not found"
    return None


def _registry() -> dict[str, LogParser]:
    from swegc.runtime.harness.parsers.pytest_log import PytestParser
    from swegc.runtime.harness.parsers.regex_log import RegexParser
    from swegc.runtime.harness.parsers.unittest_log import DjangoParser, UnittestParser

    parsers: list[LogParser] = [PytestParser(), UnittestParser(), DjangoParser(), RegexParser()]
    return {parser.name: parser for parser in parsers}


_PARSERS: dict[str, LogParser] | None = None
PARSERS: dict[str, LogParser]  # built on first access, see __getattr__


def __getattr__(name: str) -> Any:
    global _PARSERS
    if name == "PARSERS":
        if _PARSERS is None:
            _PARSERS = _registry()
        return _PARSERS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_parser(name: str, options: dict[str, Any] | None = None) -> LogParser:
    """The parser called ``name``, configured with ``options`` where it takes any.

    Only ``regex`` takes options (and needs them); giving options to another parser is an error,
    since they would be silently ignored.
    """
    registry: dict[str, LogParser] = __getattr__("PARSERS")
    if name not in registry:
        raise SwegcError(f"unknown log parser {name!r}; valid parsers are {', '.join(sorted(registry))}")
    if name == "regex":
        from swegc.runtime.harness.parsers.regex_log import RegexParser

        return RegexParser.from_options(options)
    if options:
        raise SwegcError(f"log parser {name!r} takes no options (got {', '.join(sorted(options))}); "
                         "only the 'regex' parser is configured with options")
    return registry[name]
