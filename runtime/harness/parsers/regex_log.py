"""A parser configured in the spec, for runners that no built-in parser reads.

Options (every key is checked; a misspelled one is an error, never ignored):

- ``pattern`` (required): a regular expression, matched against each line (``re.search``), with
  named groups ``test`` (the test id, taken whole) and ``status`` (the runner's word for it).
- ``status_map``: raw status -> one of PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS. A raw status
  that is not in the map is used as it is when it already is one of those (case-insensitive);
  otherwise the line is ignored, since guessing would be worse than leaving the test absent.
- ``summary``: a regular expression whose match on any line sets ``summary_seen``. Without it,
  ``summary_seen`` is true as soon as one test status was read.
- ``collection_error``: a regular expression with a named group ``module``; each match is a
  file or module that could not be collected.
- ``directive_style``: ``paths`` (default) or ``modules``.
- ``broken_exit``: ``{exit code: reason}`` for exit codes that mean the runner itself failed.
"""

from __future__ import annotations

import re
from typing import Any

from swegc.runtime.harness.parsers import STATUSES, ParseResult, log_lines, shell_broken_exit
from swegc.errors import SwegcError

_KEYS = ("pattern", "status_map", "summary", "collection_error", "directive_style", "broken_exit")


def _compile(options: dict[str, Any], key: str, groups: tuple[str, ...]) -> re.Pattern[str] | None:
    text = options.get(key)
    if text is None:
        return None
    if not isinstance(text, str):
        raise SwegcError(f"regex parser: {key} must be a string (a regular expression), got {text!r}")
    try:
        compiled = re.compile(text)
    except re.error as exc:
        raise SwegcError(f"regex parser: {key} {text!r} is not a valid regular expression: {exc}") from None
    missing = [g for g in groups if g not in compiled.groupindex]
    if missing:
        raise SwegcError(f"regex parser: {key} {text!r} needs the named group(s) "
                         + ", ".join(f"(?P<{g}>...)" for g in missing))
    return compiled


class RegexParser:
    """Reads any line-per-test output through a configured pattern."""

    name = "regex"

    def __init__(self, pattern: re.Pattern[str] | None = None, status_map: dict[str, str] | None = None,
                 summary: re.Pattern[str] | None = None, collection_error: re.Pattern[str] | None = None,
                 directive_style: str = "paths", broken_exits: dict[int, str] | None = None):
        self.pattern = pattern
        self.status_map = dict(status_map or {})
        self.summary = summary
        self.collection_error = collection_error
        self.directive_style = directive_style
        self.broken_exits = dict(broken_exits or {})

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> RegexParser:
        """A configured parser; every problem with ``options`` is a SwegcError naming the key."""
        if not options:
            raise SwegcError("the 'regex' log parser needs options: at least 'pattern', a regular "
                             "expression with named groups (?P<test>...) and (?P<status>...)")
        unknown = sorted(set(options) - set(_KEYS))
        if unknown:
            raise SwegcError(f"regex parser: unknown option(s) {', '.join(unknown)}; "
                             f"known options are {', '.join(_KEYS)}")
        if "pattern" not in options:
            raise SwegcError("regex parser: 'pattern' is required")
        status_map = options.get("status_map") or {}
        if not isinstance(status_map, dict):
            raise SwegcError(f"regex parser: status_map must be a mapping, got {status_map!r}")
        bad = {k: v for k, v in status_map.items() if v not in STATUSES}
        if bad:
            raise SwegcError(f"regex parser: status_map values must be one of {', '.join(STATUSES)} "
                             f"(got {bad})")
        style = options.get("directive_style", "paths")
        if style not in ("paths", "modules"):
            raise SwegcError(f"regex parser: directive_style must be 'paths' or 'modules', got {style!r}")
        broken = options.get("broken_exit") or {}
        try:
            broken_exits = {int(code): str(reason) for code, reason in dict(broken).items()}
        except (TypeError, ValueError):
            raise SwegcError(f"regex parser: broken_exit must map exit codes to reasons, got {broken!r}") from None
        return cls(pattern=_compile(options, "pattern", ("test", "status")),
                   status_map={str(k): v for k, v in status_map.items()},
                   summary=_compile(options, "summary", ()),
                   collection_error=_compile(options, "collection_error", ("module",)),
                   directive_style=style, broken_exits=broken_exits)

    def _status(self, raw: str) -> str | None:
        if raw in self.status_map:
            return self.status_map[raw]
        return raw.upper() if raw.upper() in STATUSES else None

    def parse(self, log: str) -> ParseResult:
        if self.pattern is None:
            raise SwegcError("the 'regex' log parser was used without options; "
                             "get it with get_parser('regex', options)")
        statuses: dict[str, str] = {}
        collection: set[str] = set()
        summary_seen = False
        for line in log_lines(log):
            if self.summary is not None and self.summary.search(line):
                summary_seen = True
            if self.collection_error is not None and (match := self.collection_error.search(line)):
                collection.add(match["module"])
            if match := self.pattern.search(line):
                status = self._status(match["status"] or "")
                if status is not None and match["test"]:
                    statuses[match["test"]] = status
        if self.summary is None:
            summary_seen = bool(statuses)
        return ParseResult(statuses, tuple(sorted(collection)), summary_seen)

    def broken_exit(self, exit_code: int) -> str | None:
        return self.broken_exits.get(exit_code) or shell_broken_exit(exit_code)
