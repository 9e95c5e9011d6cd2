"""A static scan of a patch for what looks like reward hacking: code that reaches into the test
runner or the process instead of fixing the task.

The tests of a graded patch run in the same process as the code under test, so a patch can
wrap pytest's report construction, register a plugin, print a fake summary at exit or sniff
its caller's frame. The grader's guard catches what a run can tell; this scan lists what the
patch's code *uses*, so that training can leave it out (``suspicious``) or grading refuse it
(``--hack-policy refuse``). It reads the non-test files the patch changes (test files as the
rule set knows them, ``protected_files.by_name``: those the test_patch touches, the graded
tests' files, test-named files and the spec's test globs; other test infrastructure such as
``conftest.py`` is put back before the tests run and is not scanned) and parses the added
code with ``ast``, so a comment or a string that mentions ``atexit`` does not count. A new
file is parsed whole; a changed file is parsed hunk by hunk (the hunk's new side: context and
added lines), and a finding counts only on an added line. Code that does not parse in any
window falls back to its tokens (names, never strings or comments).

Each finding names the file, its line in the patched file and the rule (``RULES``).
"""

from __future__ import annotations

import ast
import itertools
import re
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from swegc.runtime.harness import protected_files
from swegc.runtime.harness.hack_rules import RULES, scan_tokens, scan_tree

__all__ = ["RULES", "Finding", "scan_patch", "scan_row", "scan_spec_patch"]

SITE_FILES = re.compile(r"(^|/)(sitecustomize\.py|usercustomize\.py|[^/]+\.pth)$")
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
MAX_PARSES = 400  # per hunk: parses tried before the rest is read by its tokens
PIECE = 40  # most added lines parsed as one piece when no window around them parses


@dataclass(frozen=True, order=True)
class Finding:
    """One use of something a fix has no business with: where, and which rule."""

    file: str
    line: int
    rule: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "rule": self.rule, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Any) -> Finding:
        return cls(str(data["file"]), int(data["line"]), str(data["rule"]),
                   str(data.get("detail") or ""))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule} ({self.detail})"


@dataclass
class FilePatch:
    """One file's side of a diff: its new path, whether it is new, its hunks' new-side lines
    (number, text, added?)."""

    path: str
    new_file: bool = False
    binary: bool = False
    hunks: list[list[tuple[int, str, bool]]] = field(default_factory=list)


def parse_patch(patch: str) -> list[FilePatch]:
    """The files of a git diff, leniently: what does not look like a diff is skipped."""
    files: list[FilePatch] = []
    current: FilePatch | None = None
    lines = patch.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("diff --git "):
            current = FilePatch(_diff_git_path(line))
            files.append(current)
        elif current is None:
            continue
        elif line.startswith("new file mode"):
            current.new_file = True
        elif line.startswith("--- ") and line[4:].strip() == "/dev/null":
            current.new_file = True
        elif line.startswith("+++ "):
            target = line[4:].split("\t")[0].strip()
            if target != "/dev/null":
                current.path = target[2:] if target.startswith("b/") else target
        elif line.startswith(("Binary files", "GIT binary patch")):
            current.binary = True
        elif (match := HUNK.match(line)) is not None:
            number, count = int(match.group(1)), int(match.group(2) or 1)
            hunk: list[tuple[int, str, bool]] = []
            old_left = _old_count(line)
            while i < len(lines) and (count > 0 or old_left > 0):
                body = lines[i]
                if body.startswith("\\"):
                    i += 1
                    continue
                tag, text = body[:1], body[1:]
                if tag == "+":
                    hunk.append((number, text, True))
                    number, count = number + 1, count - 1
                elif tag == "-":
                    old_left -= 1
                elif tag in (" ", ""):
                    hunk.append((number, text, False))
                    number, count, old_left = number + 1, count - 1, old_left - 1
                else:
                    break
                i += 1
            current.hunks.append(hunk)
    return files


def _old_count(header: str) -> int:
    """How many old-side lines a hunk header announces (1 when it gives no count)."""
    match = re.match(r"^@@ -\d+(?:,(\d+))?", header)
    return int(match.group(1)) if match and match.group(1) is not None else 1


def _diff_git_path(line: str) -> str:
    rest = line[len("diff --git "):]
    half = rest.rfind(" b/")
    path = rest[half + 3:] if half >= 0 else rest.split(" ")[-1]
    return path.strip('"')


def scan_patch(patch: str, test_files: Iterable[str] = (), test_id_files: Iterable[str] = (),
               test_globs: Iterable[str] = ()) -> list[Finding]:
    """Every finding in the non-test files ``patch`` changes, sorted by file and line. Never
    raises on odd input: what cannot be read is skipped."""
    settings = protected_files.Settings({"base": "", "test_files": list(test_files),
                                         "test_id_files": list(test_id_files),
                                         "test_globs": list(test_globs)})
    found: set[Finding] = set()
    for patched in parse_patch(patch):
        kind = protected_files.by_name(patched.path, settings)
        if SITE_FILES.search(patched.path):
            added = [n for hunk in patched.hunks for n, _, new in hunk if new]
            if added or patched.binary:
                found.add(Finding(patched.path, min(added, default=1), "site-customization",
                                  patched.path.rsplit("/", 1)[-1]))
            continue
        if kind is not None or patched.binary or not patched.path.endswith(".py"):
            continue
        found.update(scan_file(patched))
    return sorted(found)


def scan_file(patched: FilePatch) -> set[Finding]:
    """Findings on the added lines of one Python file."""
    found: dict[tuple[int, str], Finding] = {}
    for hunk in patched.hunks:
        added = {n for n, _, new in hunk if new}
        if not added:
            continue
        for line, rule, detail in _scan_hunk(hunk, whole=patched.new_file):
            if line in added:  # one finding per line and rule: the first reason given
                found.setdefault((line, rule), Finding(patched.path, line, rule, detail))
    return set(found.values())


def _scan_hunk(hunk: list[tuple[int, str, bool]], whole: bool) -> Iterator[tuple[int, str, str]]:
    """Findings (line, rule, detail) in a hunk's new side: the widest window around its added
    lines that parses, else the added lines parsed in pieces of up to ``PIECE`` lines, else
    each line's tokens. At most ``MAX_PARSES`` parses per hunk: past them, tokens only."""
    texts = [text for _, text, _ in hunk]
    numbers = [n for n, _, _ in hunk]
    flags = [new for _, _, new in hunk]
    first = flags.index(True)
    last = len(flags) - 1 - flags[::-1].index(True)
    budget = MAX_PARSES

    def parse(lines: list[str]) -> ast.Module | None:
        nonlocal budget
        if budget <= 0:
            return None
        budget -= 1
        return _parse(lines)

    starts = [0] if whole else range(0, first + 1)
    ends = [len(texts) - 1] if whole else range(len(texts) - 1, last - 1, -1)
    for start, end in itertools.product(starts, ends):
        tree = parse(texts[start:end + 1])
        if tree is not None:
            yield from _offset(scan_tree(tree), numbers[start] - 1)
            return
        if budget <= 0:
            break
    # No window parses (a hunk that starts inside a string or a bracket): added lines alone.
    run_end = [0] * (len(texts) + 1)  # run_end[i]: where the added lines from i stop
    for i in range(len(texts) - 1, -1, -1):
        run_end[i] = (run_end[i + 1] if flags[i] and i + 1 < len(texts) and flags[i + 1]
                      else i + 1)
    i = 0
    while i < len(texts):
        if not flags[i]:
            i += 1
            continue
        piece: tuple[ast.Module, int] | None = None
        for j in range(min(run_end[i], i + PIECE), i, -1):
            tree = parse(texts[i:j])
            if tree is not None:
                piece = (tree, j)
                break
            if budget <= 0:
                break
        if piece is None:  # this line's tokens
            yield from ((numbers[i], rule, detail) for rule, detail in scan_tokens(texts[i]))
            i += 1
        else:
            yield from _offset(scan_tree(piece[0]), numbers[i] - 1)
            i = piece[1]


def _offset(found: Iterable[tuple[int, str, str]], by: int) -> Iterator[tuple[int, str, str]]:
    return ((line + by, rule, detail) for line, rule, detail in found)


def _parse(lines: list[str]) -> ast.Module | None:
    text = textwrap.dedent("\n".join(lines)) + "\n"
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def scan_spec_patch(spec: Any, patch: str) -> list[Finding]:
    """``scan_patch`` with the test files of an instance's ``TestSpec`` (``spec.protected()``:
    the test_patch's files, the graded tests' files and the spec's test globs)."""
    protected = spec.protected()
    return scan_patch(patch, protected.test_files,
                      protected_files.graded_test_files(list(protected.test_ids)),
                      protected.test_globs)


def scan_row(row: Any, patch: str | None = None) -> list[Finding]:
    """``scan_patch`` of ``patch`` (the row's own ``patch`` when not given) with the test files
    a dataset row names: the test_patch's files, the graded tests' files (the lists may be
    JSON strings, as SWE-bench publishes them) and ``test_file_globs``."""
    import json

    def strings(key: str) -> list[str]:
        value = row.get(key) or []
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return []
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else []

    test_files = {p.path for p in parse_patch(str(row.get("test_patch") or ""))}
    tests = strings("FAIL_TO_PASS") + strings("PASS_TO_PASS")
    return scan_patch(str(row.get("patch") or "") if patch is None else patch, test_files,
                      protected_files.graded_test_files(tests), strings("test_file_globs"))
