"""What changed between the previously published release and this one, instance by instance.

Rows are matched by split and instance id. A row is changed when any column but the noisy ones
(``validation`` holds timings that differ on every run) differs; the changed columns are named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swegc.nesting import loads

NOISY_COLUMNS = frozenset({"validation"})


@dataclass(frozen=True)
class Changelog:
    """``previous`` is the tag compared against (None: first publish)."""

    previous: str | None
    previous_commit: str | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # id -> columns
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {"previous": self.previous, "previous_commit": self.previous_commit, "added": self.added,
                "removed": self.removed, "changed": self.changed, "unchanged": self.unchanged}

    def markdown(self) -> str:
        if self.previous is None:
            return "First release."
        lines = [f"Compared with `{self.previous}` (commit `{(self.previous_commit or '')[:12]}`): "
                 f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed, "
                 f"{self.unchanged} unchanged."]
        if self.added:
            lines += ["", "Added:", *(f"- `{i}`" for i in self.added)]
        if self.removed:
            lines += ["", "Removed:", *(f"- `{i}`" for i in self.removed)]
        if self.changed:
            lines += ["", "Changed:", *(f"- `{i}`: {', '.join(f'`{c}`' for c in cols)}"
                                         for i, cols in self.changed.items())]
        return "\n".join(lines)


def _canonical(value: Any) -> str:
    if isinstance(value, str):
        try:  # JSON columns read back raw from the Hub compare equal to decoded ones
            value = loads(value) if value[:1] in "{[" else value
        except ValueError:
            pass
    return json.dumps(value, sort_keys=True, default=str)


def _key(split: str, iid: str, splits: int) -> str:
    return iid if splits == 1 else f"{split}/{iid}"


def diff_rows(previous: str | None, previous_commit: str | None,
              old: Mapping[str, list[dict[str, Any]]], new: Mapping[str, list[dict[str, Any]]],
              id_columns: tuple[str, ...] = ("instance_id",), noisy: frozenset[str] = NOISY_COLUMNS) -> Changelog:
    """The changelog from ``old`` rows (by split) to ``new`` rows, rows matched by ``id_columns``."""
    if previous is None:
        return Changelog(None)
    splits = len(set(old) | set(new))

    def ident(row: dict[str, Any]) -> str:
        return "/".join(str(row.get(c)) for c in id_columns)

    before = {_key(s, ident(r), splits): r for s, rows in old.items() for r in rows}
    after = {_key(s, ident(r), splits): r for s, rows in new.items() for r in rows}
    changed: dict[str, list[str]] = {}
    for key in sorted(set(before) & set(after)):
        a, b = before[key], after[key]
        columns = sorted(c for c in set(a) | set(b) if c not in noisy and _canonical(a.get(c)) != _canonical(b.get(c)))
        if columns:
            changed[key] = columns
    common = len(set(before) & set(after))
    return Changelog(previous, previous_commit, sorted(set(after) - set(before)),
                     sorted(set(before) - set(after)), changed, common - len(changed))
