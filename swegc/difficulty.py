"""Difficulty signals of a task instance, the ones curation in the field filters and weighs by.

SWE-bench Lite keeps one-file fixes of at most 3 hunks; SWE-Gym and SWE-rebench report how
many files and lines gold patches change; SWE-smith and R2E-Gym curate by how many tests a fix
makes pass and by how often a policy resolves the task. So each row carries:

- ``difficulty_files``, ``difficulty_hunks``, ``difficulty_lines``: the files, hunks and lines
  (added plus removed) the gold ``patch`` changes, read with unidiff (tests are in
  ``test_patch`` and not counted);
- ``difficulty_fail_to_pass``: how many tests the fix makes pass;
- ``difficulty_resolve_rate``: the fraction of a policy's rollouts that resolved the instance,
  with ``difficulty_resolve_runs`` rollouts counted and ``difficulty_resolve_policy`` naming
  the policy; ``None``, 0 and ``""`` until ``swegc curate BUILD --runs RUNS`` fills them.

Compile writes them; the synthesizer can call ``patch_size`` for the bugs it makes. A row of an
older schema has its patch, so a reader computes them (``Difficulty.of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

DIFFICULTY_COLUMNS = ("difficulty_files", "difficulty_hunks", "difficulty_lines",
                      "difficulty_fail_to_pass", "difficulty_resolve_rate",
                      "difficulty_resolve_runs", "difficulty_resolve_policy")


@dataclass(frozen=True)
class PatchSize:
    files: int
    hunks: int
    lines: int  # added plus removed


def patch_size(patch: str) -> PatchSize:
    """Files, hunks and changed lines of a unified diff; an unreadable diff counts 0 (a row's
    patch was applied by validation, so that is for hand-written input only)."""
    from unidiff import PatchSet
    from unidiff.errors import UnidiffParseError

    if not patch.strip():
        return PatchSize(0, 0, 0)
    try:
        files = PatchSet(patch)
    except UnidiffParseError:
        return PatchSize(0, 0, 0)
    return PatchSize(len(files), sum(len(f) for f in files), sum(f.added + f.removed for f in files))


@dataclass(frozen=True)
class Difficulty:
    """An instance's difficulty signals, as the row's ``difficulty_*`` columns."""

    files: int
    hunks: int
    lines: int
    fail_to_pass: int
    resolve_rate: float | None = None
    resolve_runs: int = 0
    resolve_policy: str = ""

    @classmethod
    def of(cls, patch: str, fail_to_pass: Sequence[str]) -> Difficulty:
        size = patch_size(patch)
        return cls(size.files, size.hunks, size.lines, len(fail_to_pass))

    def columns(self) -> dict[str, Any]:
        return {f"difficulty_{name}": value for name, value in asdict(self).items()}

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> Difficulty:
        return cls(**{column.removeprefix("difficulty_"): row[column] for column in DIFFICULTY_COLUMNS})


def resolve_rates(trajectories: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, int]]:
    """Per instance id: (the fraction of its rollouts that resolved it, how many rollouts)."""
    counts: dict[str, list[int]] = {}
    for trajectory in trajectories:
        tally = counts.setdefault(str(trajectory["instance_id"]), [0, 0])
        tally[0] += bool(trajectory.get("resolved"))
        tally[1] += 1
    return {iid: (resolved / total, total) for iid, (resolved, total) in counts.items()}
