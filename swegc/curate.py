"""``swegc curate BUILD --runs RUNS``: a policy's resolve rate as each row's difficulty signal.

Compile writes the patch-size and FAIL_TO_PASS signals (``swegc.difficulty``); how often a
policy resolves an instance needs its rollouts, so it is added afterwards, from a RUNS folder
(``swegc rollout`` output, or any trajectory dataset): ``difficulty_resolve_rate`` (resolved
rollouts / rollouts), ``difficulty_resolve_runs`` and ``difficulty_resolve_policy``. A row with
no rollout of that policy gets no rate (and 0 runs), so a rate always says whose it is. Every
split of the build is rewritten in place with the same columns; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swegc.errors import InputError


@dataclass(frozen=True)
class CurateResult:
    policy: str
    rated: int  # rows that got a rate
    unrated: int  # rows with no rollout of the policy
    unknown: int  # instance ids of RUNS that are in no split


def policy_name(policy: dict) -> str:
    """A trajectory's policy as people name it: its model (or model_path, or replay file)."""
    return str(policy.get("model") or policy.get("model_path") or policy.get("replay") or "unnamed")


def curate(build: Path, runs: Path, policy: str | None = None) -> CurateResult:
    """Fills the resolve-rate columns of every split of ``build`` from the rollouts in ``runs``."""
    from swegc.build_layout import BuildLayout
    from swegc.dataset import read_dataset, rewrite_split
    from swegc.difficulty import resolve_rates
    from swegc.trajectory_dataset import read_trajectories

    layout = BuildLayout(build)
    splits = sorted(p.name.split("-00000-of-")[0] for p in layout.data_dir.glob("*-00000-of-00001.parquet"))
    if not splits:
        raise InputError(f"{build}: no dataset shard (data/*.parquet); give the --out folder of "
                         "a `swegc compile`, or compile it first")
    compiled = BuildLayout(runs)
    if compiled.manifest.is_file() or compiled.instances_report.is_file():
        raise InputError(f"--runs {runs} is a build folder (swegc compile --out), not rollouts; "
                         "give the folder `swegc rollout --out` wrote")
    trajectories = [t for _, t in read_trajectories(runs)]
    names = sorted({policy_name(t.policy) for t in trajectories})
    if not names:
        raise InputError(f"{runs}: no trajectories; give the folder `swegc rollout --out` wrote")
    if policy is None and len(names) > 1:
        raise InputError(f"{runs} holds rollouts of {len(names)} policies ({', '.join(names)}); "
                         "choose one with --policy")
    chosen = policy or names[0]
    if chosen not in names:
        raise InputError(f"--policy {chosen}: {runs} has no rollout of it (it has {', '.join(names)})")
    rates = resolve_rates(t.to_json() for t in trajectories if policy_name(t.policy) == chosen)
    seen: set[str] = set()
    rated = unrated = 0
    for split in splits:
        rows = read_dataset(build, split)
        if rows and "difficulty_resolve_rate" not in rows[0]:
            raise InputError(f"{build}: split {split} has no difficulty columns (compiled by an older "
                             "swegc); compile it again, which rebuilds nothing, to add them")
        for row in rows:
            iid = str(row["instance_id"])
            seen.add(iid)
            rate, count = rates.get(iid, (None, 0))
            row.update(difficulty_resolve_rate=rate, difficulty_resolve_runs=count,
                       difficulty_resolve_policy=chosen if count else "")
            rated, unrated = (rated + 1, unrated) if count else (rated, unrated + 1)
        rewrite_split(build, split, rows)
    return CurateResult(chosen, rated, unrated, len(set(rates) - seen))
