"""Which log parser a row names: swegc's own, and SWE-bench 5.x's for the row's eval_script log.

``eval_script`` needs both (its verdict lines follow SWE-bench's parser's line style) and
``peer_columns`` writes both into the row, so they live here, below both of them.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from swegc.errors import InputError
from swegc.nesting import loads

# swegc parser -> SWE-bench 5.x parser. eval_script prints the verdict's statuses last, in the
# line style of that parser (``PASSED id`` / ``id ... ok``), so for unittest's dotted ids and
# for regex rows 5.x's pytest parser reads the same verdict the exit status gives.
_SWEBENCH_PARSERS = {"pytest": "parse_log_pytest", "unittest": "parse_log_pytest",
                     "regex": "parse_log_pytest", "django": "parse_log_django"}


def swegc_parser(row: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """swegc's parser name and options of a row, before or after ``peer_columns`` was merged."""
    name = row.get("swegc_log_parser") or row.get("log_parser")
    if not name or str(name).startswith("parse_log_"):
        raise InputError(f"{row.get('instance_id', '?')}: the row names no swegc log parser "
                         "(swegc_log_parser); rows compiled by swegc have one")
    options = row.get("swegc_parser_options", row.get("parser_options"))
    if isinstance(options, str):
        try:
            options = loads(options) if options else None
        except json.JSONDecodeError as exc:
            raise InputError(f"{row.get('instance_id', '?')}: swegc_parser_options is not valid "
                             f"JSON ({exc.msg}); it holds the parser's options as an object"
                             ) from None
    if name == "regex" and not (options and options.get("pattern")):
        raise InputError(f"{row.get('instance_id', '?')}: a regex-parsed row needs "
                         "swegc_parser_options with a 'pattern'")
    return str(name), options


def swebench_parser(row: Mapping[str, Any]) -> str:
    """The SWE-bench 5.x parser name that reads this row's eval_script log."""
    name, _ = swegc_parser(row)
    if name not in _SWEBENCH_PARSERS:
        raise InputError(f"{row.get('instance_id', '?')}: no SWE-bench parser fits swegc "
                         f"parser {name!r}; known: {', '.join(sorted(_SWEBENCH_PARSERS))}")
    chosen = _SWEBENCH_PARSERS[name]
    tests = [*row["FAIL_TO_PASS"], *row["PASS_TO_PASS"]]
    if chosen == "parse_log_pytest" and any(any(c.isspace() for c in t) for t in tests):
        return "parse_log_pytest_v2"  # parse_log_pytest cuts an id at its first space
    return chosen
