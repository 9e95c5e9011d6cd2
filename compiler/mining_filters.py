"""Which mined candidates to keep (the spec's ``source.filters``), and which are "lite".

``apply_filters`` returns the kept candidates and, for every other one, the first reason it
failed, in the order the checks are listed in ``Filters``. Checks on files need the change:
``diff`` (or ``patch`` + ``test_patch``); a candidate with neither skips those checks, since a
later stage computes the diff from the clone.

``is_lite`` follows SWE-bench Lite's published selection (https://www.swebench.com/lite.html):
a problem statement of at least 40 words with no images, no links, no commit SHAs and no
references to other issues or pull requests; a gold patch (non-test files) that edits exactly
one existing file in at most 3 hunks and neither creates nor removes files. (Lite also removed
instances whose tests check error messages; that needs the tests' text and is not checked.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pathspec
from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from swegc.compiler.mining import instant
from swegc.compiler.spec import Filters
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


def rejection(candidate: Candidate, filters: Filters, test_globs: Sequence[str]) -> str | None:
    """Why ``filters`` drop the candidate, or None when it is kept."""
    created = instant(candidate.created_at)
    if filters.numbers and candidate.number not in filters.numbers:
        return "not among source.filters.numbers"
    if filters.since and created and created < instant(filters.since):
        return f"created {candidate.created_at}, before since {filters.since}"
    if filters.until and created and created >= instant(filters.until):
        return f"created {candidate.created_at}, not before until {filters.until}"
    if filters.base_branch and candidate.base_branch != filters.base_branch:
        return f"base branch {candidate.base_branch!r} is not {filters.base_branch!r}"
    if filters.labels and not set(filters.labels) & set(candidate.labels):
        return f"has none of the labels {', '.join(filters.labels)}"
    excluded = sorted(set(filters.exclude_labels) & set(candidate.labels))
    if excluded:
        return f"has the excluded label(s) {', '.join(excluded)}"
    if filters.require_linked_issue and not candidate.issues:
        return "no linked issue"
    files = changed_files(candidate, test_globs)
    if files is None:
        return None
    if filters.must_touch_tests and not any(f.is_test for f in files):
        return "touches no test files"
    if filters.must_touch_code and not any(not f.is_test for f in files):
        return "touches no non-test files"
    if filters.max_files is not None and len(files) > filters.max_files:
        return f"changes {len(files)} files (max_files {filters.max_files})"
    lines = sum(f.added + f.removed for f in files)
    if filters.max_lines is not None and lines > filters.max_lines:
        return f"changes {lines} lines (max_lines {filters.max_lines})"
    return None


def apply_filters(candidates: Iterable[Candidate], filters: Filters, test_globs: Sequence[str],
                  ) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """``(kept, [(rejected candidate, reason), ...])``, both in the input's order."""
    kept: list[Candidate] = []
    rejected: list[tuple[Candidate, str]] = []
    for candidate in candidates:
        reason = rejection(candidate, filters, test_globs)
        if reason is None:
            kept.append(candidate)
        else:
            rejected.append((candidate, reason))
    return kept, rejected


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
