"""One instance's test settings, from the spec to the dataset row and back.

Compile validation, rollout grading and ``swegc evaluate`` all run an instance's tests the same
way: in its image, with the row's command (directives appended), parser and options, time
limit, network setting, environment, prepare commands and test-file globs. ``TestSettings`` is
that one value: compile builds it once, validates with it, hashes it into its keys and writes it
into the row with ``row_columns``; a grader reads it back with ``TestSpec.from_row``: nothing is
looked up in a spec file or a build folder at grading time.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swegc.errors import InputError
from swegc.hashing import content_hash
from swegc.runtime.harness.guard import Protected

# What an older row (schema_version 1, before the test settings had columns) is graded with.
DEFAULT_TIMEOUT_S = 900
# Baked into every instance image (with tests.env and the instance's env) and set again for every
# run: no bytecode left from the other side's sources, and a fixed hash seed.
TEST_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
_SETTINGS_KEY_FORMAT = 1


@dataclass(frozen=True)
class TestSettings:
    """How an instance's tests run: one value from the spec to the row and back.

    Compile builds it once per instance (``TestsSpec.settings``), validates with it, hashes it
    into the unit key (``key``) and writes it into the row (``row_columns``); a grader reads it
    back (``from_row``) and a rollout hashes it into its own key. A new setting is a field here,
    its column in ``row_columns`` and ``from_row``, and the spec value that fills it.
    (``log_parser`` is SWE-bench's name for eval_script's log, hence ``swegc_log_parser``.)
    """

    __test__ = False  # not a pytest test class

    test_command: str  # with directives appended
    test_directives: tuple[str, ...]
    parser: str  # a name in swegc.runtime.harness.parsers.PARSERS
    parser_options: dict[str, Any] | None = None
    timeout_s: int = DEFAULT_TIMEOUT_S  # one run of test_command
    network: bool = False  # whether the tests may reach the network
    env: dict[str, str] = field(default_factory=dict)  # set for the test command
    # Commands run in /testbed after the patches are applied and before the tests (the spec's
    # tests.prepare): what the patch changes the sources of, built again (a grammar, say).
    prepare: tuple[str, ...] = ()
    # The spec's tests.files (gitignore-style): which changed files are test files, which a
    # patch under test may not change (guard, eval_script).
    file_globs: tuple[str, ...] = ()

    def row_columns(self) -> dict[str, Any]:
        """The dataset row's columns for these settings (see swegc.dataset.COLUMN_DOCS)."""
        return {"test_command": self.test_command, "test_directives": list(self.test_directives),
                "swegc_log_parser": self.parser, "swegc_parser_options": self.parser_options,
                "test_timeout_s": self.timeout_s, "test_network": self.network,
                "test_env": dict(sorted(self.env.items())), "test_prepare": list(self.prepare),
                "test_file_globs": list(self.file_globs)}

    def key(self) -> str:
        """What a result that depends on how the tests run (a compile unit, a rollout) hashes:
        every setting at once, so that a new one can never be left out of a key."""
        return content_hash("test-settings", _SETTINGS_KEY_FORMAT, self.row_columns())

    @classmethod
    def from_row(cls, row: Mapping[str, Any], where: str = "row") -> TestSettings:
        """The settings in a row's columns (objects or their JSON, as ``load_dataset`` gives
        them); rows older than a column get its default. ``InputError`` names ``where`` and the
        column when one is missing or mistyped, or names no known parser."""
        get = _Columns(row, where)
        settings = cls(
            test_command=get.text("test_command"),
            test_directives=get.strings("test_directives", default=()),
            # Rows before schema 3 named swegc's parser `log_parser`, its options `parser_options`.
            parser=get.text("swegc_log_parser" if row.get("swegc_log_parser") else "log_parser"),
            parser_options=get.mapping("swegc_parser_options" if "swegc_parser_options" in row
                                       else "parser_options", default=None),
            timeout_s=get.integer("test_timeout_s", default=DEFAULT_TIMEOUT_S),
            network=get.boolean("test_network", default=False),
            env={k: str(v) for k, v in (get.mapping("test_env", default={}) or {}).items()},
            prepare=get.strings("test_prepare", default=()),
            file_globs=get.strings("test_file_globs", default=()))
        from swegc.runtime.harness.parsers import get_parser

        try:
            get_parser(settings.parser, settings.parser_options)
        except Exception as exc:  # noqa: BLE001 - the parser's own message says what is wrong
            raise InputError(f"{where}: columns 'swegc_log_parser'/'swegc_parser_options': {exc}") from None
        return settings


@dataclass(frozen=True)
class TestSpec:
    """Everything needed to grade a patch on one instance, from its row alone."""

    __test__ = False

    instance_id: str
    repo: str
    image: str
    base_commit: str
    test_patch: str
    test_files: tuple[str, ...]  # paths the test_patch touches (both sides of a rename)
    settings: TestSettings
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    gold_patch: str = ""  # the row's own patch (``gold`` predictions)

    def protected(self) -> Protected:
        """What a patch under test may not change on this instance (``guard.put_back``)."""
        return Protected(self.base_commit, self.test_files,
                         (*self.fail_to_pass, *self.pass_to_pass), self.settings.file_globs,
                         self.gold_patch)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], where: str = "row") -> TestSpec:
        """The spec of a dataset row (``read_dataset``, ``load_dataset`` or a JSONL line).

        Nested columns may be objects or JSON strings (as ``load_dataset`` gives them). A
        missing or mistyped column is an ``InputError`` naming the instance and the column.
        """
        iid = row.get("instance_id")
        if not isinstance(iid, str) or not iid:
            raise InputError(f"{where}: the row has no 'instance_id' (a non-empty string)")
        here = f"{where} ({iid})"
        get = _Columns(row, here)
        image = get.text("image")
        if not image:
            raise InputError(f"{here}: column 'image' is empty; the row names no image to grade in")
        test_patch = get.text("test_patch", allow_empty=True)
        settings = TestSettings.from_row(row, here)
        return cls(instance_id=iid, repo=get.text("repo"), image=image,
                   base_commit=get.text("base_commit"), test_patch=test_patch,
                   test_files=patch_paths(test_patch, here), settings=settings,
                   fail_to_pass=get.strings("FAIL_TO_PASS"),
                   pass_to_pass=get.strings("PASS_TO_PASS"),
                   gold_patch=get.text("patch", allow_empty=True, default=""))


def full_test_command(command: str, directives: list[str]) -> str:
    """A command with its directives (test files or modules) appended, each quoted."""
    return " ".join([command, *(shlex.quote(d) for d in directives)])


class _Columns:
    """Typed reads of a row's columns, each failure naming the instance and the column."""

    _MISSING = object()

    def __init__(self, row: Mapping[str, Any], where: str):
        self.row, self.where = row, where

    def _get(self, name: str, default: Any) -> Any:
        value = self.row.get(name, self._MISSING)
        if value is self._MISSING or value is None:
            if default is self._MISSING:
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
                value = json.loads(value)
            except json.JSONDecodeError:
                raise self._wrong(name, "a list of strings (or its JSON)", value) from None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self._wrong(name, "a list of strings", value)
        return tuple(value)

    def mapping(self, name: str, default: Any = _MISSING) -> dict[str, Any] | None:
        value = self._get(name, default)
        if isinstance(value, str):
            try:
                value = json.loads(value)
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


def patch_paths(patch: str, where: str = "patch") -> tuple[str, ...]:
    """Paths a patch touches, old and new names of renames included, in order, no duplicates."""
    if not patch.strip():
        return ()
    from unidiff import PatchSet, UnidiffParseError

    try:
        files = PatchSet(patch)
    except UnidiffParseError as exc:
        raise InputError(f"{where}: the test_patch is not a readable diff: {exc}") from None
    paths: list[str] = []
    for item in files:
        for name in (item.source_file, item.target_file):
            if not name or name == "/dev/null":
                continue
            path = _strip_prefix(name)
            if path not in paths:
                paths.append(path)
    return tuple(paths)


def _strip_prefix(name: str) -> str:
    if name.startswith('"') and name.endswith('"'):
        name = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape") \
            .encode("latin-1").decode("utf-8", "replace")
    return name[2:] if name[:2] in ("a/", "b/") else name
