"""Which candidates a compile may build, chosen on its command line: ``--since``/``--until``
on ``created_at`` and ``--exclude FILE``, beside the spec's own ``source.filters``.

An exclusion list keeps instances out of a training set before anything is built: a public
benchmark's ids (SWE-bench Verified's ``django__django-11133``, ...) so that training cannot see
what a model is evaluated on, or whole repositories (``repo:owner/name``). Each excluded
candidate is a rejection with the reason ``excluded`` naming the file and line that excluded
it, so the funnel counts it like any filter.

The file: one entry a line, an instance id (``owner__name-123``: two underscores, no spaces,
commas, quotes or brackets) or ``repo:owner/name``; blank lines and text after ``#`` are
ignored, a UTF-8 byte-order mark too. Instance ids match exactly, repositories in any case. Any
other line (a CSV header, ids joined by commas, JSON) is an error naming its line, so that a
file in another format is never read as excluding nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from swegc.dates import instant
from swegc.errors import InputError, SwegcError
from swegc.reasons import Reason
from swegc.records import Candidate

_REPO_PREFIX = "repo:"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # as a spec's repo


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
    moments = {}
    for option, value in (("--since", since), ("--until", until)):
        moments[option] = command_line_date(option, value)
    if moments["--since"] and moments["--until"] and moments["--since"] >= moments["--until"]:
        raise InputError(f"--since {since} is not before --until {until}: no pull request can be "
                         "created in that window; swap them or widen it")
    ids, repos = read_exclusions(exclude) if exclude is not None else ({}, {})
    return Selection(since, until, ids, repos)


def command_line_date(option: str, value: str | None) -> datetime | None:
    """A date an option names (``--since``, ``--fresh-after``), or None when it is not given;
    an empty value (an unset shell variable, say) is an error, not "no date"."""
    if value is not None and not value.strip():
        raise InputError(f"{option}: an empty date; give one like 2024-01-31, or leave the "
                         "option out")
    try:
        return instant(value)
    except SwegcError as exc:  # says how to write a date
        raise InputError(f"{option}: {exc}") from None


# An instance id as swegc writes it (owner__name-123) and benchmarks do (their ids carry a
# commit or a suffix): no spaces, commas, quotes or brackets.
_ID = re.compile(r"^[\w.+@:-]+__[\w.+@:-]+$")


def _shown(entry: str) -> str:
    return repr(entry if len(entry) <= 60 else entry[:57] + "...")


def read_exclusions(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(instance ids, repositories) an exclusion file lists, each with its ``file:line``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"--exclude {path}: cannot read it ({exc.strerror}); give a text file of "
                         "instance ids or repo:owner/name lines") from None
    ids: dict[str, str] = {}
    repos: dict[str, str] = {}
    for lineno, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").splitlines(), 1):
        where = f"{path}:{lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: not UTF-8 text (byte {exc.start + 1} of the line); an "
                             "exclusion file is text, one instance id or repo:owner/name a "
                             "line") from None
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if entry.startswith(_REPO_PREFIX):
            repo = entry[len(_REPO_PREFIX):].strip()
            if not _REPO.match(repo):
                raise InputError(f"{where}: {_shown(entry)}: a repository is written "
                                 "repo:owner/name")
            repos.setdefault(repo.lower(), where)
        elif _ID.match(entry):
            ids.setdefault(entry, where)
        else:
            raise InputError(f"{where}: {_shown(entry)} is not an instance id (owner__name-123) "
                             "or repo:owner/name; one entry a line, no header, no commas or "
                             "JSON")
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
