"""Everything needed to grade a patch on one instance, read from its dataset row alone.

The test settings themselves (``TestSettings``: command, parser, timeout, network, env,
prepare, test-file globs) are one value of the core (``swegc.test_settings``) that travels from
the spec to the row; ``TestSpec`` adds what grading needs besides them: the image, the base
commit, the test_patch and the tests that decide the verdict. Nothing is looked up in a spec
file or a build folder at grading time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swegc.errors import InputError
from swegc.runtime.harness.guard import Protected
from swegc.test_settings import TEST_ENV, RowColumns, TestSettings, full_test_command

__all__ = ["TEST_ENV", "TestSettings", "TestSpec", "full_test_command", "patch_paths",
           "row_settings"]


def row_settings(row: Mapping[str, Any], where: str = "row") -> TestSettings:
    """A row's test settings, with its parser looked up: a name swegc does not know, or
    options the parser refuses, is an ``InputError`` naming ``where`` and the columns."""
    settings = TestSettings.from_row(row, where)
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
        get = RowColumns(row, here)
        image = get.text("image")
        if not image:
            raise InputError(f"{here}: column 'image' is empty; the row names no image to grade in")
        test_patch = get.text("test_patch", allow_empty=True)
        settings = row_settings(row, here)
        return cls(instance_id=iid, repo=get.text("repo"), image=image,
                   base_commit=get.text("base_commit"), test_patch=test_patch,
                   test_files=patch_paths(test_patch, here), settings=settings,
                   fail_to_pass=get.strings("FAIL_TO_PASS"),
                   pass_to_pass=get.strings("PASS_TO_PASS"),
                   gold_patch=get.text("patch", allow_empty=True, default=""))


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
