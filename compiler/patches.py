"""Reading a pull request's diff and splitting it into the code patch and the test patch.

A task instance's ``patch`` and ``test_patch`` must be applied with ``git apply`` and give the
exact files of the pull request, byte for byte. So the diff is read with ``--binary
--full-index``, kept as valid UTF-8 text (a file whose text diff is not UTF-8 is re-emitted as
a "GIT binary patch", which is ASCII), and split by slicing the ORIGINAL text of each file's
section: nothing is re-rendered, so renames, mode changes, deletions, binary patches and
"\\ No newline at end of file" survive as git wrote them. unidiff parses the same text to learn
each section's paths and line counts, and the count of parsed files is checked against the
count of ``diff --git`` headers so that a section unidiff skipped can never go missing.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec
from unidiff import PatchSet, UnidiffParseError

from swegc.git import GitRepo

DEV_NULL = "/dev/null"
_HEADER = re.compile(r"^diff --git ", re.MULTILINE)
_HEADER_BYTES = re.compile(rb"^diff --git ", re.MULTILINE)


class PatchError(Exception):
    """A diff that cannot become an instance's patches; ``reason`` is a short snake_case code.

    Reasons: ``unparseable_diff`` (unidiff and git disagree on the files), ``empty_patch``
    (no file changed), ``patch_not_representable`` (not expressible as UTF-8 text).
    """

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Split:
    """A diff cut into the code patch and the test patch, with the paths on each side."""

    patch: str
    test_patch: str
    test_files: tuple[str, ...]
    code_files: tuple[str, ...]
    code_lines: int = 0  # added + removed lines in ``patch``
    test_lines: int = 0  # added + removed lines in ``test_patch``


# -- reading -----------------------------------------------------------------------------------

def read_diff(repo: GitRepo, base: str, head: str) -> str:
    """The diff from ``base`` to ``head`` as text that ``git apply`` restores byte for byte."""
    raw = repo.diff(base, head)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    paths: set[str] = set()
    for section in _byte_sections(raw):
        try:
            section.decode("utf-8")
        except UnicodeDecodeError:
            paths.update(_section_paths(section.decode("ascii", "replace")))
    with tempfile.TemporaryDirectory(prefix="swegc-attrs-") as tmp:
        attributes = Path(tmp) / "attributes"
        attributes.write_text("".join(f"{_attr_pattern(p)} binary\n" for p in sorted(paths)),
                              encoding="utf-8")
        raw = repo.diff(base, head, config={"core.attributesFile": str(attributes)})
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PatchError("patch_not_representable",
                         f"{repo.name}: diff {base[:12]}..{head[:12]} is not UTF-8 even with "
                         f"{', '.join(sorted(paths))} as binary ({exc.reason})") from None


def _byte_sections(raw: bytes) -> list[bytes]:
    starts = [m.start() for m in _HEADER_BYTES.finditer(raw)]
    return [raw[a:b] for a, b in zip(starts, [*starts[1:], len(raw)])]


def _section_paths(section: str) -> list[str]:
    """Old and new path of one file section, from its ---/+++ lines (text diffs have them)."""
    paths = []
    for line in section.splitlines():
        if line.startswith(("--- ", "+++ ")):
            name = unquote_path(line[4:].rstrip("\t"))
            if name != DEV_NULL:
                paths.append(name)
        elif line.startswith("@@"):
            break
    return paths


def _attr_pattern(path: str) -> str:
    """A gitattributes pattern matching exactly ``path`` (anchored, globs escaped, quoted)."""
    escaped = "/" + re.sub(r"([\\*?\[])", r"\\\1", path)
    if re.fullmatch(r"[\x21-\x7e]+", escaped) and '"' not in escaped:
        return escaped
    quoted = (escaped.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
              .replace("\t", "\\t"))
    return f'"{quoted}"'


def unquote_path(name: str, strip_prefix: bool = True) -> str:
    """A path as git prints it (maybe C-quoted, with a/ or b/) back to the real path."""
    name = name.strip()
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        name = _unquote_c(name[1:-1])
    if strip_prefix and name != DEV_NULL and name[:2] in ("a/", "b/"):
        name = name[2:]
    return name


_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote_c(text: str) -> str:
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "01234567":
                out.append(int(text[i + 1:i + 4], 8))
                i += 4
                continue
            out.append(_C_ESCAPES.get(nxt, ord(nxt)))
            i += 2
            continue
        out += char.encode("utf-8")
        i += 1
    return out.decode("utf-8", "surrogateescape")


# -- splitting ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileSection:
    """One file's section of a diff: its original text and what unidiff read from it."""

    text: str
    source: str  # old path, or /dev/null for an added file
    target: str  # new path, or /dev/null for a deleted file
    lines: int  # added + removed lines

    @property
    def path(self) -> str:
        """The file's path after the change (before it, for a deletion)."""
        return self.source if self.target == DEV_NULL else self.target

    @property
    def deleted(self) -> bool:
        return self.target == DEV_NULL

    def paths(self) -> list[str]:
        return [p for p in dict.fromkeys((self.source, self.target)) if p != DEV_NULL]


def file_sections(diff: str) -> list[FileSection]:
    """Each file's section of a git diff, checked against unidiff's reading of the same text."""
    starts = [m.start() for m in _HEADER.finditer(diff)]
    if not starts:
        if diff.strip():
            raise PatchError("unparseable_diff", "no 'diff --git' header in a non-empty diff")
        raise PatchError("empty_patch", "the diff changes no file")
    try:
        parsed = PatchSet(diff)
    except UnidiffParseError as exc:
        raise PatchError("unparseable_diff", str(exc)) from None
    if len(parsed) != len(starts):
        raise PatchError("unparseable_diff", f"{len(starts)} 'diff --git' headers but unidiff "
                                             f"read {len(parsed)} files")
    sections = []
    for (start, end), patched in zip(zip(starts, [*starts[1:], len(diff)]), parsed):
        source = unquote_path(patched.source_file)
        target = unquote_path(patched.target_file)
        if patched.is_added_file:
            source = DEV_NULL
        if patched.is_removed_file:
            target = DEV_NULL
        sections.append(FileSection(diff[start:end], source, target,
                                    patched.added + patched.removed))
    return sections


def glob_matcher(globs: Sequence[str]) -> pathspec.PathSpec:
    """gitignore-style globs (``tests/``, ``**/test_*.py``, ``!tests/data/**``)."""
    return pathspec.GitIgnoreSpec.from_lines(list(globs))


def split_patch(diff: str, test_globs: Sequence[str]) -> Split:
    """Cut ``diff`` into code and tests: a file is a test file when one of its paths matches."""
    spec = glob_matcher(test_globs)
    code, tests = [], []
    for section in file_sections(diff):
        is_test = any(spec.match_file(p) for p in section.paths())
        (tests if is_test else code).append(section)
    return Split(patch="".join(s.text for s in code), test_patch="".join(s.text for s in tests),
                 test_files=tuple(s.path for s in tests), code_files=tuple(s.path for s in code),
                 code_lines=sum(s.lines for s in code), test_lines=sum(s.lines for s in tests))


DEFINES_TESTS = re.compile(r"^\+\s*(?:async\s+)?(?:def\s+test|class\s+\w*Test)", re.MULTILINE)


def _runnable_sections(test_patch: str) -> list[FileSection]:
    return [s for s in file_sections(test_patch) if not s.deleted] if test_patch.strip() else []


def test_directives(test_patch: str, style: str, directive_globs: Sequence[str]) -> list[str]:
    """What to append to the test command: the test files the test patch adds or modifies.

    As SWE-bench does (``get_test_directives``), directives come from the files the test patch
    touches, so only the changed test files run and PASS_TO_PASS covers them, not the whole
    suite. ``directive_globs`` (``tests.directive_files``) says which of them are runnable test
    files. ``paths`` gives the paths as they are, ``modules`` dotted module names
    (``tests/test_x.py`` -> ``tests.test_x``, for unittest and Django-style runners), ``none``
    nothing. Deleted files are never directives: there is nothing left to run.
    """
    if style == "none" or not test_patch.strip():
        return []
    if style not in ("paths", "modules"):
        raise ValueError(f"unknown directive style {style!r}; expected paths, modules or none")
    spec = glob_matcher(directive_globs)
    files = sorted({s.path for s in _runnable_sections(test_patch) if spec.match_file(s.path)})
    if style == "paths":
        return files
    return [module_name(f) for f in files]


def module_name(path: str) -> str:
    """``tests/test_x.py`` -> ``tests.test_x``: a test file as unittest and Django name it."""
    return re.sub(r"\.py$", "", path).replace("/", ".")


def directive_warnings(test_patch: str, style: str, directive_globs: Sequence[str],
                       directives: Sequence[str]) -> list[str]:
    """Why some changed tests will not run, said before anything is built.

    Two cases: no changed test file became a directive (so the whole suite runs and every test
    of the repository lands in PASS_TO_PASS), and a changed file that defines tests (an added
    ``def test...`` or ``class ...Test``) is left out by ``tests.directive_files``.
    """
    if style == "none":
        return []
    sections = _runnable_sections(test_patch)
    if not sections:
        return []
    warnings = []
    if not directives:
        warnings.append(
            "no changed test file is a directive (tests.directive_files: "
            f"{', '.join(directive_globs)} match none of {', '.join(s.path for s in sections)}), "
            "so the whole test suite runs; widen tests.directive_files")
    spec = glob_matcher(directive_globs)
    for section in sections:
        if not spec.match_file(section.path) and DEFINES_TESTS.search(section.text):
            warnings.append(f"{section.path} changes tests but is not run: tests.directive_files "
                            f"({', '.join(directive_globs)}) does not match it")
    return warnings


test_directives.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
