"""How deeply a user's JSON or YAML may nest, and a ``json.loads`` that holds to it.

Python's parsers recurse: ``json.loads`` of ``[[[[…`` a few thousand levels deep raises
``RecursionError`` (not ``JSONDecodeError``), PyYAML's composer does the same, and a value that
parses just under the interpreter's limit can still overflow later, in ``copy.deepcopy``,
jsonschema or ``json.dumps``. No file swegc reads comes near ``MAX_DEPTH`` (a spec nests about
6 levels, a row 4, a trajectory 6), so anything deeper is refused where it is parsed.

``loads`` refuses it as a ``json.JSONDecodeError`` positioned where the limit was passed, so
every reader that already names the file and line of bad JSON names this too, with no new
except clause; ``compiler.spec.yaml_lines`` refuses deep YAML with the same limit and words.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100
TOO_DEEP = (f"nested more than {MAX_DEPTH} levels deep, which no swegc file needs; check that "
            "it is the file you meant")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)  # strings skipped whole


def loads(text: str) -> Any:
    """``json.loads``, except that a document nested deeper than ``MAX_DEPTH`` raises
    ``json.JSONDecodeError`` (``TOO_DEEP``, at the bracket that passed the limit) instead of
    ``RecursionError`` or a value that would overflow whatever reads it next."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(text) from None
    # Cheap first: a text with few brackets cannot nest deeply (the common case, in C).
    if text.count("[") + text.count("{") > MAX_DEPTH and depth(value) > MAX_DEPTH:
        raise _too_deep(text)
    return value


def depth(value: Any) -> int:
    """How many lists and dicts are nested in ``value`` (0 for a scalar); iterative, so a
    value of any depth can be measured."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children
                     if isinstance(child, (dict, list)))
    return deepest


def _too_deep(text: str) -> json.JSONDecodeError:
    """The error for ``text``, placed at the bracket that opens level ``MAX_DEPTH + 1``."""
    level, position = 0, 0
    for token in _TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            level += 1
            if level > MAX_DEPTH:
                position = token.start()
                break
        elif char in "]}":
            level -= 1
    return json.JSONDecodeError(TOO_DEEP, text, position)
