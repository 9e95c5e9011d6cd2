"""Which candidates are "lite" (SWE-bench Lite style). The spec's ``source.filters`` are
applied by ``swegc.compiler.candidates.apply_filters``, the same code ``swegc compile`` uses.

``is_lite`` follows SWE-bench Lite's published selection (https://www.swebench.com/lite.html):
a problem statement of at least 40 words with no images, no links, no commit SHAs and no
references to other issues or pull requests; a gold patch (non-test files) that edits exactly
one existing file in at most 3 hunks and neither creates nor removes files. (Lite also removed
instances whose tests check error messages; that needs the tests' text and is not checked.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pathspec
from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from swegc.records import Candidate


@dataclass(frozen=True)
class ChangedFile:
    path: str
    is_test: bool
    added: int
    removed: int
    hunks: int
    created: bool
    deleted: bool


@dataclass(frozen=True)
class LiteCriteria:
    """SWE-bench Lite's thresholds (see the module docstring)."""

    min_words: int = 40
    max_code_files: int = 1
    max_hunks: int = 3


def changed_files(candidate: Candidate, test_globs: Sequence[str]) -> list[ChangedFile] | None:
    """Files the candidate's change touches, or None when its change is not known here."""
    if candidate.diff is not None:
        text = candidate.diff
    elif candidate.patch is not None:
        text = candidate.patch + (candidate.test_patch or "")
    else:
        return None
    try:
        patch = PatchSet(text)
    except UnidiffParseError:
        return None
    spec = pathspec.GitIgnoreSpec.from_lines(list(test_globs))
    files = []
    for f in patch:
        path = f.path
        files.append(ChangedFile(path=path, is_test=spec.match_file(path), added=f.added,
                                 removed=f.removed, hunks=len(f), created=f.is_added_file,
                                 deleted=f.is_removed_file))
    return files


_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b|\.(?:png|jpe?g|gif|svg)\b", re.I)
_LINK = re.compile(r"https?://|www\.", re.I)
_SHA = re.compile(r"\b[0-9a-f]{7,40}\b")
_REFERENCE = re.compile(r"(?:^|[\s(])(?:[\w.-]+/[\w.-]+)?#\d+\b")


def lite_reasons(candidate: Candidate, test_globs: Sequence[str],
                 criteria: LiteCriteria = LiteCriteria()) -> list[str]:
    """Every SWE-bench Lite criterion the candidate misses (empty: it is lite)."""
    reasons: list[str] = []
    statement = candidate.problem_statement
    words = len(statement.split())
    if words < criteria.min_words:
        reasons.append(f"problem statement has {words} words (< {criteria.min_words})")
    if _IMAGE.search(statement):
        reasons.append("problem statement has an image")
    if _LINK.search(statement):
        reasons.append("problem statement has a link")
    if any(re.search(r"[a-f]", s) and re.search(r"\d", s) for s in _SHA.findall(statement)):
        reasons.append("problem statement names a commit SHA")
    if _REFERENCE.search(statement):
        reasons.append("problem statement refers to another issue or pull request")
    files = changed_files(candidate, test_globs)
    if files is None:
        reasons.append("the change is not known (no diff)")
        return reasons
    code = [f for f in files if not f.is_test]
    if len(code) != criteria.max_code_files:
        reasons.append(f"gold patch edits {len(code)} files (lite: {criteria.max_code_files})")
    hunks = sum(f.hunks for f in code)
    if hunks > criteria.max_hunks:
        reasons.append(f"gold patch has {hunks} hunks (> {criteria.max_hunks})")
    if any(f.created or f.deleted for f in code):
        reasons.append("gold patch creates or removes a file")
    return reasons


def is_lite(candidate: Candidate, test_globs: Sequence[str],
            criteria: LiteCriteria = LiteCriteria()) -> bool:
    return not lite_reasons(candidate, test_globs, criteria)
