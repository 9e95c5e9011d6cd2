"""Which candidates a compile may build, chosen on its command line: ``--since``/``--until``
on ``created_at`` and ``--exclude FILE``, beside the spec's own ``source.filters``.

An exclusion list keeps instances out of a training set before anything is built: a public
benchmark's ids (SWE-bench Verified's ``django__django-11133``, ...) so that training cannot see
what a model is evaluated on, or whole repositories (``repo:owner/name``). Each excluded
candidate is a rejection with the reason ``excluded`` naming the file and line that excluded
it, so the funnel counts it like any filter.

The file: one entry a line, an instance id or ``repo:owner/name``; blank lines and text after
``#`` are ignored. Instance ids match exactly, repositories in any case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from swegc.dates import instant
from swegc.errors import InputError
from swegc.reasons import Reason
from swegc.records import Candidate

_REPO_PREFIX = "repo:"


@dataclass(frozen=True)
class Selection:
    """The command line's choice of candidates; the default chooses all."""

    since: str | None = None  # ISO date or timestamp: created_at on or after it
    until: str | None = None  # created_at before it
    excluded_ids: dict[str, str] = field(default_factory=dict)  # id -> "file:line"
    excluded_repos: dict[str, str] = field(default_factory=dict)  # owner/name (lower) -> "file:line"

    def rejection(self, candidate: Candidate) -> tuple[Reason, str] | None:
        """Why the command line leaves ``candidate`` out, or None."""
        where = self.excluded_ids.get(candidate.instance_id) or \
            self.excluded_repos.get(candidate.repo.lower())
        if where:
            return Reason.EXCLUDED, f"listed in {where} (--exclude)"
        if self.since or self.until:
            created = instant(candidate.created_at, lenient=True)
            if created is None:
                return Reason.OUTSIDE_DATES, f"created_at {candidate.created_at!r} is not a date"
            if self.since and created < instant(self.since):  # type: ignore[operator]
                return Reason.OUTSIDE_DATES, f"created {candidate.created_at}, before --since {self.since}"
            if self.until and created >= instant(self.until):  # type: ignore[operator]
                return Reason.OUTSIDE_DATES, f"created {candidate.created_at}, not before --until {self.until}"
        return None


def selection(since: str | None = None, until: str | None = None,
              exclude: Path | None = None) -> Selection:
    """A Selection from command-line values; an InputError names a bad date or a bad line."""
    for option, value in (("--since", since), ("--until", until)):
        try:
            instant(value)
        except Exception as exc:  # SwegcError: says how to write a date
            raise InputError(f"{option}: {exc}") from None
    ids, repos = read_exclusions(exclude) if exclude is not None else ({}, {})
    return Selection(since, until, ids, repos)


def read_exclusions(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(instance ids, repositories) an exclusion file lists, each with its ``file:line``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--exclude {path}: cannot read it ({exc}); give a text file of instance "
                         "ids or repo:owner/name lines") from None
    ids: dict[str, str] = {}
    repos: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        where = f"{path}:{lineno}"
        if not entry:
            continue
        if entry.startswith(_REPO_PREFIX):
            repo = entry[len(_REPO_PREFIX):].strip()
            if repo.count("/") != 1 or not all(repo.split("/")):
                raise InputError(f"{where}: {entry!r}: a repository is written repo:owner/name")
            repos.setdefault(repo.lower(), where)
        elif " " in entry or "\t" in entry or "/" in entry:
            raise InputError(f"{where}: {entry!r} is not an instance id (owner__name-123) or "
                             "repo:owner/name; one entry a line")
        else:
            ids.setdefault(entry, where)
    return ids, repos


FRESH_SPLIT = "test_fresh"


def split_fresh(rows: list[dict], after: str) -> tuple[list[dict], list[dict]]:
    """(rows created up to ``after``, rows created later): the later ones are the freshness
    split, for evaluation that training on the others cannot have seen. A row whose
    ``created_at`` is no date stays with the others (it cannot be shown to be fresh)."""
    moment = instant(after)
    old: list[dict] = []
    fresh: list[dict] = []
    for row in rows:
        created = instant(str(row.get("created_at") or ""), lenient=True)
        (fresh if created is not None and moment is not None and created > moment else old).append(row)
    return old, fresh
