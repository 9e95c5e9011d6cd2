"""Which issues a pull request resolves, and the hints that were known before work began.

Pure functions over text and timestamps, so they are tested without any server.

Linked issues come from two places (both are used, and their union is kept):

- GitHub's own ``closingIssuesReferences`` (read through GraphQL by the miner);
- closing keywords in the title, body and commit messages, as GitHub defines them
  (close, closes, closed, fix, fixes, fixed, resolve, resolves, resolved; any case, an optional
  colon) followed by ``#N``, ``owner/name#N`` or a full issue URL
  ``https://<host>/owner/name/issues/N`` of the same repository. HTML comments (pull request
  templates) are removed first, as SWE-bench does;
- for pull requests read from a clone, a spec's ``source.git.issue_pattern`` too: the body
  that says "Resolves #N" is not in a squash commit, the project's own subject may be.

``hints_text`` is SWE-bench's: for each linked issue, the bodies of its comments, in order, up
to the first comment whose ``updated_at`` is not before the pull request's first commit's
author date, joined by newlines; the issues' hints are joined by newlines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

CLOSING_KEYWORDS = ("close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves",
                    "resolved")
_HTML_COMMENT = re.compile(r"(?s)<!--.*?-->")
_REFERENCE = re.compile(
    r"(?i)(?<![\w-])(?:" + "|".join(CLOSING_KEYWORDS) + r")(?::\s*|\s+)"
    r"(?:(?P<slug>[\w.-]+/[\w.-]+)?#(?P<num>\d+)\b"
    r"|https?://[^/\s]+/(?P<uslug>[\w.-]+/[\w.-]+)/issues/(?P<unum>\d+)\b)")


@dataclass(frozen=True)
class Comment:
    body: str
    created_at: str
    updated_at: str


def keyword_references(repo: str, texts: Iterable[str]) -> list[int]:
    """Issue numbers of ``repo`` that closing keywords in ``texts`` point at, in order, once."""
    found: list[int] = []
    for text in texts:
        for match in _REFERENCE.finditer(_HTML_COMMENT.sub("", text or "")):
            slug = match.group("slug") or match.group("uslug")
            number = int(match.group("num") or match.group("unum"))
            if slug is not None and slug.lower() != repo.lower():
                continue  # another repository's issue: not this dataset's problem statement
            if number not in found:
                found.append(number)
    return found


def pattern_references(pattern: str, texts: Iterable[str]) -> list[int]:
    """Issue numbers that a project's own convention (``source.git.issue_pattern``: group
    ``issue``, else group 1) names in ``texts``, in order, once."""
    compiled = re.compile(pattern, re.MULTILINE)
    group = "issue" if "issue" in compiled.groupindex else 1
    found: list[int] = []
    for text in texts:
        for match in compiled.finditer(text or ""):
            value = match.group(group)
            if value and value.isdigit() and int(value) > 0 and int(value) not in found:
                found.append(int(value))
    return found


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def hints_for_issue(comments: Sequence[Comment], first_commit_at: str | None) -> str:
    """Bodies of the comments made (last updated) before the first commit, joined by newlines."""
    if not first_commit_at:
        return ""
    cutoff = _when(first_commit_at)
    kept: list[str] = []
    for comment in comments:
        if _when(comment.updated_at or comment.created_at) < cutoff:
            kept.append(comment.body or "")
        else:
            break
    return "\n".join(kept)


def hints_text(per_issue: Sequence[Sequence[Comment]], first_commit_at: str | None) -> str:
    """SWE-bench's ``hints_text`` over every linked issue, in the issues' order."""
    if not per_issue:
        return ""
    return "\n".join(hints_for_issue(comments, first_commit_at) for comments in per_issue)
