"""Harder tasks from easy ones: two or three validated bugs, in different functions, at once.

SWE-smith found that combining bugs that each fail some tests gives tasks an agent must solve
in several places, with FAIL_TO_PASS the union of theirs. The parts must not touch the same
function (one fix would hide the other) nor change the same lines.

With the clean checkout at hand (``root``), each part is read as edits of the original lines
(the lines it removes and what it puts there), all parts' edits are made to the file, and the
diffs are made afresh from the result: two bugs in neighbouring functions, whose hunks share
context, become one hunk as a person's diff would show them. Without it, hunks are merged as
they are, in line order, each hunk's new-side start moved by what the other parts' earlier
hunks add or remove (the fix likewise from the parts' fixes, so it is again the exact reverse);
then even context may not overlap. Only plain edits of existing text files are combined: a
part that adds, deletes or renames a file, or patches a binary, is left out.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from unidiff import Hunk, PatchSet, UnidiffParseError

from swegc.compiler.synthesis.bugs import BugCandidate
from swegc.compiler.synthesis.diffs import file_diff, lines_of
from swegc.compiler.synthesis.sources import read_source

ATTEMPTS_PER_RESULT = 20  # random groups tried for each combination wanted


@dataclass(frozen=True)
class _Edit:
    """Lines ``start`` to ``end`` (0-based, end excluded) of the original become ``lines``."""

    start: int
    end: int
    lines: tuple[str, ...]

    def meets(self, other: _Edit) -> bool:
        """Whether the two edits change the same lines or insert at the same place."""
        return self.start == other.start or (self.start < other.end and other.start < self.end)


@dataclass(frozen=True)
class _Part:
    """A candidate with its bug and fix hunks by file, and its bug's edits of each file."""

    candidate: BugCandidate
    bug: dict[str, list[Hunk]]
    fix: dict[str, list[Hunk]]

    def spans(self, path: str) -> list[tuple[int, int]]:
        """The original lines each bug hunk covers, context included."""
        return [(h.source_start, h.source_start + max(h.source_length, 1))
                for h in self.bug.get(path, [])]

    def edits(self, path: str) -> list[_Edit]:
        return [edit for hunk in self.bug.get(path, []) for edit in _edits(hunk)]


def candidate_id(candidate: BugCandidate) -> str:
    """A short stable name for a candidate: its ``extra["id"]`` if it has one, else a hash of
    its bug patch."""
    given = candidate.extra.get("id")
    return str(given) if given else hashlib.sha256(candidate.bug_patch.encode()).hexdigest()[:12]


def combined_candidates(valid: Sequence[BugCandidate], *, seed: int, limit: int,
                        max_parts: int = 3, root: Path | None = None) -> list[BugCandidate]:
    """Up to ``limit`` combinations of 2 to ``max_parts`` of the ``valid`` candidates.

    With ``root`` (the clean checkout the candidates were made from), each merged patch is
    applied to a copy of the files it touches, and the fix must give their bytes back; a merge
    that fails is skipped.
    """
    parts = _parts(valid)
    if len(parts) < 2 or limit <= 0:
        return []
    rng = random.Random(seed)
    order = list(range(len(parts)))
    rng.shuffle(order)
    seen: set[frozenset[int]] = set()
    found: list[BugCandidate] = []
    for attempt in range(limit * ATTEMPTS_PER_RESULT):
        if len(found) >= limit:
            break
        size = rng.randint(2, max(2, max_parts))
        group = _group(parts, order[attempt % len(order)], size, rng, by_edits=root is not None)
        key = frozenset(group)
        if len(group) < 2 or key in seen:
            continue
        seen.add(key)
        chosen = [parts[i] for i in group]
        combined = _combine(chosen, root)
        if combined is not None and (root is None or _applies(root, combined)):
            found.append(combined)
    return found


def _parts(valid: Sequence[BugCandidate]) -> list[_Part]:
    parts: list[_Part] = []
    patches: set[str] = set()
    for candidate in valid:
        if candidate.strategy == "combined" or candidate.bug_patch in patches:
            continue
        bug, fix = _hunks(candidate.bug_patch), _hunks(candidate.fix_patch)
        if bug is not None and fix is not None and bug.keys() == fix.keys():
            patches.add(candidate.bug_patch)
            parts.append(_Part(candidate, bug, fix))
    return parts


def _hunks(patch: str) -> dict[str, list[Hunk]] | None:
    """Each file's hunks, or None when the patch is not plain edits of existing text files."""
    if "GIT binary patch" in patch:
        return None
    try:
        parsed = PatchSet(patch)
    except UnidiffParseError:
        return None
    files: dict[str, list[Hunk]] = {}
    for patched in parsed:
        if (not patched.is_modified_file or patched.is_rename or not len(patched)
                or patched.path in files):
            return None
        files[patched.path] = list(patched)
    return files or None


def _group(parts: list[_Part], first: int, size: int, rng: random.Random,
           by_edits: bool) -> list[int]:
    """``first`` and up to ``size - 1`` others that go with it and with each other."""
    group = [first]
    pool = [i for i in range(len(parts)) if i != first]
    rng.shuffle(pool)
    for i in pool:
        if len(group) >= size:
            break
        if all(_compatible(parts[i], parts[j], by_edits) for j in group):
            group.append(i)
    return group


def _compatible(a: _Part, b: _Part, by_edits: bool) -> bool:
    """Different functions (or files), and in a file they share no line both change (no hunk
    overlap at all, context included, unless ``by_edits``)."""
    if set(a.candidate.functions) & set(b.candidate.functions):
        return False
    for path in a.bug.keys() & b.bug.keys():
        if by_edits:
            if any(x.meets(y) for x in a.edits(path) for y in b.edits(path)):
                return False
            continue
        for start_a, end_a in a.spans(path):
            for start_b, end_b in b.spans(path):
                if start_a < end_b and start_b < end_a:
                    return False
    return True


def _combine(parts: list[_Part], root: Path | None) -> BugCandidate | None:
    files = sorted({path for part in parts for path in part.bug})
    functions = tuple(dict.fromkeys(f for part in parts for f in part.candidate.functions))
    if root is None:
        bug = _merged([part.bug for part in parts], files, anchor="source")
        fix = _merged([part.fix for part in parts], files, anchor="target")
    else:
        bug, fix = "", ""
        for path in files:
            try:
                original = read_source(root / path)
            except (OSError, UnicodeDecodeError):
                return None
            changed = _edited(original, [e for part in parts for e in part.edits(path)])
            bug += file_diff(path, original, changed)
            fix += file_diff(path, changed, original)
    return BugCandidate(
        strategy="combined", kind="", bug_patch=bug, fix_patch=fix,
        files=tuple(files), functions=functions,
        description="combined: " + "; ".join(p.candidate.description for p in parts),
        extra={"parts": [{"id": candidate_id(p.candidate), "origin": p.candidate.origin,
                          "functions": list(p.candidate.functions),
                          "description": p.candidate.description} for p in parts]})


def _merged(patches: list[dict[str, list[Hunk]]], files: list[str], anchor: str) -> str:
    """One diff of all ``patches``' hunks, file by file, in line order.

    ``anchor`` is the side whose line numbers are those of one shared file: the old side
    (``source``) for bug patches, which all start from the clean file, and the new side
    (``target``) for fixes, which all end at it. The other side of each hunk moves by what the
    other patches' earlier hunks add or remove there.
    """
    out: list[str] = []
    for path in files:
        hunks = [(i, h) for i, patch in enumerate(patches) for h in patch.get(path, [])]
        hunks.sort(key=lambda item: (getattr(item[1], f"{anchor}_start"), item[0]))
        out += [f"diff --git a/{path} b/{path}\n", f"--- a/{path}\n", f"+++ b/{path}\n"]
        for i, hunk in hunks:
            shift = sum(other.added - other.removed for j, other in hunks
                        if j != i and _before(other, hunk, anchor))
            source, target = hunk.source_start, hunk.target_start
            if anchor == "source":
                target += shift
            else:
                source -= shift
            out.append(f"@@ -{source},{hunk.source_length} +{target},{hunk.target_length} @@"
                       f"{hunk.section_header and ' ' + hunk.section_header}\n")
            out += [str(line) for line in hunk]
    return "".join(out)


def _edits(hunk: Hunk) -> list[_Edit]:
    """The hunk's changes as edits of the original's lines (context lines are not edits)."""
    edits: list[_Edit] = []
    position = hunk.source_start - 1 if hunk.source_length else hunk.source_start
    start: int | None = None
    end = 0
    lines: list[str] = []
    previous = ""
    for line in hunk:
        kind = line.line_type
        if kind == "\\":  # the line before has no newline at the end of its file
            if previous == "+" and lines:
                lines[-1] = lines[-1].rstrip("\n")
            continue
        previous = kind
        if kind == " ":
            if start is not None:
                edits.append(_Edit(start, end, tuple(lines)))
                start, lines = None, []
            position += 1
            continue
        if start is None:
            start = end = position
        if kind == "-":
            position += 1
            end = position
        else:
            lines.append(line.value)
    if start is not None:
        edits.append(_Edit(start, end, tuple(lines)))
    return edits


def _edited(original: str, edits: list[_Edit]) -> str:
    """``original`` with the ``edits`` (which do not meet) made, the last first."""
    lines = lines_of(original)
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        lines[edit.start:edit.end] = list(edit.lines)
    return "".join(lines)


def _before(other: Hunk, hunk: Hunk, anchor: str) -> bool:
    return getattr(other, f"{anchor}_start") < getattr(hunk, f"{anchor}_start")


def _applies(root: Path, candidate: BugCandidate) -> bool:
    """Whether the bug applies to a copy of ``root``'s files and the fix gives them back."""
    with tempfile.TemporaryDirectory(prefix="swegc-combine-") as tmp:
        copy = Path(tmp)
        for path in candidate.files:
            (copy / path).parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(root / path, copy / path)
            except OSError:
                return False
        for patch in (candidate.bug_patch, candidate.fix_patch):
            applied = subprocess.run(["git", "apply", "-"], cwd=copy, input=patch.encode(),
                                     capture_output=True, check=False)
            if applied.returncode != 0:
                return False
        return all((copy / p).read_bytes() == (root / p).read_bytes() for p in candidate.files)
