"""How an instance's tests run: one value from the spec to the dataset row and back.

Compile validation, rollout grading and ``swegc evaluate`` all run an instance's tests the same
way: in its image, with the row's command (directives appended), parser and options, time
limit, network setting, environment, prepare commands and test-file globs. ``TestSettings`` is
that one value: compile builds it once per instance (``TestsSpec.settings``), validates with it,
hashes it into its keys (``key``) and writes it into the row (``row_columns``); a grader reads it
back (``from_row``): nothing is looked up in a spec file or a build folder at grading time.

Each field declares its row column, the column's documentation and (for rows written before the
column had its name) the older name, so the row schema (``swegc.dataset``), the typed
``Instance`` and every reader derive from this one class. A new test setting is a field here,
the spec value that fills it (``compiler/spec/model.py`` and ``specs/schema.json``) and its
README line.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from swegc.errors import InputError
from swegc.hashing import content_hash
from swegc.nesting import loads

# What an older row (schema_version 1, before the test settings had columns) is graded with.
DEFAULT_TIMEOUT_S = 900
# Baked into every instance image (with tests.env and the instance's env) and set again for every
# run: no bytecode left from the other side's sources, and a fixed hash seed.
TEST_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
_SETTINGS_KEY_FORMAT = 1


def _column(name: str, doc: str, legacy: str | None = None) -> dict[str, Any]:
    return {"column": name, "doc": doc, "legacy": legacy}


@dataclass(frozen=True)
class TestSettings:
    """How an instance's tests run (``log_parser`` is SWE-bench's name for eval_script's log,
    hence ``swegc_log_parser``)."""

    __test__ = False  # not a pytest test class

    test_command: str = field(metadata=_column(
        "test_command", "The command that runs the tests (test_directives appended)."))
    test_directives: tuple[str, ...] = field(metadata=_column(
        "test_directives", "The test files or modules passed to test_command, or the names of "
        "the changed test cases (a spec's tests.directives.cases)."))
    parser: str = field(metadata=_column(
        "swegc_log_parser", "swegc's parser for test_command's log: pytest, unittest, django or "
        "regex.", legacy="log_parser"))
    parser_options: dict[str, Any] | None = field(default=None, metadata=_column(
        "swegc_parser_options", "JSON: options of swegc_log_parser (the regex parser's "
        "patterns), or null.", legacy="parser_options"))
    timeout_s: int = field(default=DEFAULT_TIMEOUT_S, metadata=_column(
        "test_timeout_s", "Seconds one run of test_command may take."))
    network: bool = field(default=False, metadata=_column(
        "test_network", "Whether the tests may reach the network."))
    env: dict[str, str] = field(default_factory=dict, metadata=_column(
        "test_env", "JSON: environment variables set for test_command (also baked into the "
        "image)."))
    prepare: tuple[str, ...] = field(default=(), metadata=_column(
        "test_prepare", "Commands run in /testbed after the patches are applied and before "
        "test_command (regenerating what the patch changes the sources of, such as a compiled "
        "grammar); if one fails, the patch is not resolved."))
    file_globs: tuple[str, ...] = field(default=(), metadata=_column(
        "test_file_globs", "The spec's test-file globs: which changed files are test files; both "
        "graders (swegc's and the eval_script) put back every matching file a candidate patch "
        "changed."))

    def row_columns(self) -> dict[str, Any]:
        """The dataset row's columns for these settings, in declaration order."""
        columns: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict) and spec.name == "env":
                value = dict(sorted(value.items()))
            columns[spec.metadata["column"]] = value
        return columns

    def key(self) -> str:
        """What a result that depends on how the tests run (a compile unit, a rollout) hashes:
        every setting at once, so that a new one can never be left out of a key."""
        return content_hash("test-settings", _SETTINGS_KEY_FORMAT, self.row_columns())

    @classmethod
    def from_row(cls, row: Mapping[str, Any], where: str = "row",
                 partial: bool = False) -> TestSettings:
        """The settings in a row's columns (objects or their JSON, as ``load_dataset`` gives
        them); rows older than a column get its default. ``InputError`` names ``where`` and the
        column when one is missing or mistyped. The parser's name is not looked up here (the
        harness does, where the parsers live). ``partial``: a row another tool wrote, which may
        lack the command and parser, reads them as empty instead."""
        get = RowColumns(row, where)
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name, legacy = spec.metadata["column"], spec.metadata["legacy"]
            if legacy and row.get(name) is None and legacy in row:
                name = legacy
            default = _default_of(spec)
            if partial and default is _MISSING:
                default = "" if spec.type == "str" else ()
            values[spec.name] = get.typed(name, spec.type, default, allow_empty=partial)
        return cls(**values)


def setting_columns() -> dict[str, dict[str, Any]]:
    """Each test-setting row column with its kind (``str``, ``list``, ``int``, ``bool`` or
    ``json``) and documentation, in declaration order: what ``swegc.dataset`` and
    ``swegc.records`` build their schema from."""
    kinds = {"str": "str", "tuple[str, ...]": "list", "int": "int", "bool": "bool"}
    return {spec.metadata["column"]: {"kind": kinds.get(str(spec.type), "json"),
                                      "doc": spec.metadata["doc"], "field": spec.name}
            for spec in fields(TestSettings)}


def full_test_command(command: str, directives: list[str] | tuple[str, ...]) -> str:
    """The spec's command with the directives appended, each quoted for the shell."""
    return " ".join([command, *(shlex.quote(d) for d in directives)])


_MISSING: Any = object()


def _default_of(spec: Any) -> Any:
    from dataclasses import MISSING

    if spec.default is not MISSING:
        return spec.default
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return _MISSING


class RowColumns:
    """Typed reads of a row's columns, each failure naming the instance and the column."""

    def __init__(self, row: Mapping[str, Any], where: str):
        self.row, self.where = row, where

    def typed(self, name: str, kind: str, default: Any = _MISSING, allow_empty: bool = False) -> Any:
        """The column read as the annotation ``kind`` of a TestSettings field says."""
        if kind == "str":
            return self.text(name, allow_empty=allow_empty, default=default)
        if kind == "tuple[str, ...]":
            return self.strings(name, default=default)
        if kind == "int":
            return self.integer(name, default=default)
        if kind == "bool":
            return self.boolean(name, default=default)
        mapping = self.mapping(name, default=default)
        if kind == "dict[str, str]":
            return {k: str(v) for k, v in (mapping or {}).items()}
        return mapping

    def _get(self, name: str, default: Any) -> Any:
        value = self.row.get(name, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise InputError(f"{self.where}: missing column {name!r}; the row cannot be graded "
                                 "without it (was the dataset written by an older tool?)")
            return default
        return value

    def _wrong(self, name: str, expected: str, value: Any) -> InputError:
        return InputError(f"{self.where}: column {name!r} should be {expected}, "
                          f"got {type(value).__name__} {str(value)[:80]!r}")

    def text(self, name: str, allow_empty: bool = False, default: Any = _MISSING) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise self._wrong(name, "a string", value)
        if not value and not allow_empty:
            raise InputError(f"{self.where}: column {name!r} is empty")
        return value

    def strings(self, name: str, default: Any = _MISSING) -> tuple[str, ...]:
        value = self._get(name, default)
        if isinstance(value, str):  # SWE-bench's older datasets keep the lists as JSON text
            try:
                value = loads(value)
            except json.JSONDecodeError:
                raise self._wrong(name, "a list of strings (or its JSON)", value) from None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self._wrong(name, "a list of strings", value)
        return tuple(value)

    def mapping(self, name: str, default: Any = _MISSING) -> dict[str, Any] | None:
        value = self._get(name, default)
        if isinstance(value, str):
            try:
                value = loads(value)
            except json.JSONDecodeError:
                raise self._wrong(name, "an object (or its JSON)", value) from None
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._wrong(name, "an object", value)
        return dict(value)

    def integer(self, name: str, default: Any = _MISSING) -> int:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self._wrong(name, "a positive whole number of seconds", value)
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false", value)
        return value
