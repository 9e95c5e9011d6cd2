"""The agent's tools as OpenAI function schemas, and the checks a tool call must pass.

The three tools are those of the OpenHands CodeAct agent that SWE-Gym trained: ``bash``, the
``str_replace_editor`` (view, create, str_replace, insert, undo_edit) and ``submit``. A call
that names no known tool, whose arguments are not a JSON object, or that lacks a required
parameter is a *format error*: the loop returns the message to the model instead of running it.
"""

from __future__ import annotations

import json
from typing import Any

from swegc.nesting import loads

EDITOR_COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")

BASH = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": (
            "Run a bash command in the repository's container and return its output and exit "
            "code. Each command runs with a time limit; a command that runs past it is killed "
            "and the episode goes on. Do not start interactive programs (editors, pagers, "
            "REPLs); use non-interactive flags (git --no-pager, pip -q, ...)."),
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "string",
                            "description": "The bash command to run, e.g. `python -m pytest -x tests/test_x.py`."},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    },
}

STR_REPLACE_EDITOR = {
    "type": "function",
    "function": {
        "name": "str_replace_editor",
        "description": (
            "View, create and edit files.\n"
            "* `view` of a file shows it with line numbers (like `cat -n`); of a folder lists "
            "files and folders up to 2 levels deep, hidden ones left out.\n"
            "* `create` writes a new file; it refuses a path that already exists.\n"
            "* `str_replace` replaces `old_str` with `new_str`; `old_str` must match exactly one "
            "place in the file, whitespace included.\n"
            "* `insert` inserts `new_str` after line `insert_line` (0 inserts at the top).\n"
            "* `undo_edit` reverts the last edit made to the file at `path`.\n"
            "Paths are absolute, e.g. /testbed/pkg/module.py."),
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "enum": list(EDITOR_COMMANDS),
                            "description": "One of view, create, str_replace, insert, undo_edit."},
                "path": {"type": "string", "description": "Absolute path of a file or folder."},
                "file_text": {"type": "string", "description": "`create`: the new file's content."},
                "old_str": {"type": "string",
                            "description": "`str_replace`: the exact text to replace (must be unique in the file)."},
                "new_str": {"type": "string",
                            "description": "`str_replace`: the replacement (empty deletes); `insert`: the text to insert."},
                "insert_line": {"type": "integer",
                                "description": "`insert`: the line after which `new_str` goes (0 = top)."},
                "view_range": {"type": "array", "items": {"type": "integer"},
                               "description": "`view` of a file: [start, end] lines, 1-based; end -1 = to the end."},
            },
            "required": ["command", "path"],
            "additionalProperties": False,
        },
    },
}

SUBMIT = {
    "type": "function",
    "function": {
        "name": "submit",
        "description": ("Submit the changes made in /testbed and end the episode. Call it once the "
                        "issue is resolved; the working tree's diff against HEAD is the answer."),
        "parameters": {"type": "object", "properties": {}, "required": [],
                       "additionalProperties": False},
    },
}

TOOLS: list[dict[str, Any]] = [BASH, STR_REPLACE_EDITOR, SUBMIT]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)
_SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
_JSON_TYPES = {"string": str, "integer": int, "array": list, "object": dict}


class ToolCallError(Exception):
    """A tool call the loop cannot run as written (a format error); the text goes to the model."""


def parse_call(name: str, raw_arguments: Any) -> dict[str, Any]:
    """The checked arguments of a call to tool ``name``, or ``ToolCallError`` saying what is wrong."""
    if name not in _SCHEMAS:
        raise ToolCallError(f"Unknown tool {name!r}. The tools are: {', '.join(TOOL_NAMES)}.")
    if raw_arguments in (None, ""):
        arguments: Any = {}
    elif isinstance(raw_arguments, str):
        try:
            arguments = loads(raw_arguments)
        except json.JSONDecodeError as exc:
            raise ToolCallError(f"The arguments of {name} are not valid JSON ({exc.msg} at "
                                f"character {exc.pos}); give a JSON object.") from None
    else:
        arguments = raw_arguments
    if not isinstance(arguments, dict):
        raise ToolCallError(f"The arguments of {name} must be a JSON object, not "
                            f"{type(arguments).__name__}.")
    schema = _SCHEMAS[name]
    props = schema["properties"]
    missing = [p for p in schema["required"] if p not in arguments]
    if missing:
        raise ToolCallError(f"{name} is missing the required parameter(s) {', '.join(missing)}.")
    unknown = sorted(set(arguments) - set(props))
    if unknown:
        allowed = ", ".join(props) or "none"
        raise ToolCallError(f"{name} has no parameter(s) {', '.join(unknown)}; its parameters "
                            f"are: {allowed}.")
    for key, value in arguments.items():
        expected = props[key]["type"]
        if not isinstance(value, _JSON_TYPES[expected]) or (expected == "integer" and isinstance(value, bool)):
            raise ToolCallError(f"{name}: parameter {key} must be of type {expected}, not "
                                f"{type(value).__name__}.")
        if "enum" in props[key] and value not in props[key]["enum"]:
            raise ToolCallError(f"{name}: {key} {value!r} is not one of "
                                f"{', '.join(props[key]['enum'])}.")
    return arguments


def action_key(name: str, arguments: dict[str, Any]) -> str:
    """The same tool with the same arguments gives the same key (the stuck detector's unit)."""
    return name + ":" + json.dumps(arguments, sort_keys=True, ensure_ascii=False)
