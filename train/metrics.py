"""Rollout metrics: resolve rate, exact pass@k and best@k, loop rate, empty-patch rate.

pass@k for an instance with n samples of which c resolved: 1 - C(n-c, k) / C(n, k), the chance
that a uniformly drawn k-subset holds a resolved sample. best@k: the expected resolve indicator
of the top-scored sample in a uniformly drawn k-subset, ties broken uniformly at random. With
samples grouped by equal score, m of them scored higher than a group of g, the group holds
the subset's top score with probability (C(n-m, k) - C(n-m-g, k)) / C(n, k), and then the pick is
uniform within the group's drawn members, whose expected resolve rate is the group's mean.
Both are averaged over instances; k runs from 1 to the smallest n over instances.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby
from math import comb

from swegc.pass_at_k import pass_at_curve
from swegc.reasons import ExitStatus
from swegc.records import Trajectory


def best_at_k(samples: list[tuple[float, bool]], k: int) -> float:
    """Exact best@k for one instance from (score, resolved) pairs."""
    n = len(samples)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and n={n}")
    total = comb(n, k)
    ordered = sorted(samples, key=lambda s: -s[0])
    value, higher = 0.0, 0
    for _, group_iter in groupby(ordered, key=lambda s: s[0]):
        group = list(group_iter)
        g = len(group)
        p_top = (comb(n - higher, k) - comb(n - higher - g, k)) / total
        value += p_top * sum(r for _, r in group) / g
        higher += g
    return value


def is_loop(traj: Trajectory, repeats: int = 3) -> bool:
    """Stuck: exit status "stuck", or the same assistant action ``repeats`` times in a row."""
    if traj.exit_status == ExitStatus.STUCK:
        return True
    run, last = 0, None
    for msg in traj.messages:
        if msg.get("role") != "assistant":
            continue
        action = json.dumps([msg.get("content") or "",
                             [(c.get("function") or {}) for c in msg.get("tool_calls") or []]], sort_keys=True)
        run = run + 1 if action == last else 1
        last = action
        if run >= repeats:
            return True
    return False


@dataclass(frozen=True)
class RolloutMetrics:
    """Figures of a set of rollouts; curves are indexed by k = 1..len(curve)."""

    trajectories: int
    instances: int
    resolve_rate: float
    loop_rate: float
    empty_patch_rate: float
    samples_min: int
    samples_max: int
    pass_at: list[float]
    best_at: list[float] = field(default_factory=list)
    scored: int = 0

    def to_json(self) -> dict[str, object]:
        return {"schema_version": 1, **self.__dict__}

    def table(self) -> str:
        lines = [f"trajectories      {self.trajectories}",
                 f"instances         {self.instances} (samples per instance {self.samples_min}"
                 + (f"-{self.samples_max})" if self.samples_max != self.samples_min else ")"),
                 f"resolve rate      {self.resolve_rate:.2%}",
                 f"loop rate         {self.loop_rate:.2%}",
                 f"empty-patch rate  {self.empty_patch_rate:.2%}", "",
                 "   k   pass@k" + ("   best@k" if self.best_at else "")]
        for k, p in enumerate(self.pass_at, 1):
            row = f"{k:4d}  {p:7.2%}"
            if self.best_at:
                row += f"  {self.best_at[k - 1]:7.2%}"
            lines.append(row)
        return "\n".join(lines)


def rollout_metrics(trajectories: list[Trajectory], scores: dict[tuple[str, str], float] | None = None,
                    loop_repeats: int = 3) -> RolloutMetrics:
    """Every figure of ``trajectories``; best@k only when every trajectory has a score."""
    if not trajectories:
        raise ValueError("no trajectories to evaluate")
    groups: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajectories:
        groups[t.instance_id].append(t)
    sizes = [len(g) for g in groups.values()]
    kmax = min(sizes)
    pass_curve = pass_at_curve({iid: [t.resolved for t in g] for iid, g in groups.items()})
    best_curve: list[float] = []
    scored = 0
    if scores is not None:
        scored = sum((t.instance_id, t.run_id) in scores for t in trajectories)
        if scored == len(trajectories):
            pairs = {iid: [(scores[(t.instance_id, t.run_id)], t.resolved) for t in g] for iid, g in groups.items()}
            best_curve = [sum(best_at_k(p, k) for p in pairs.values()) / len(pairs) for k in range(1, kmax + 1)]
    n = len(trajectories)
    return RolloutMetrics(trajectories=n, instances=len(groups),
                      resolve_rate=sum(t.resolved for t in trajectories) / n,
                      loop_rate=sum(is_loop(t, loop_repeats) for t in trajectories) / n,
                      empty_patch_rate=sum(not t.patch.strip() for t in trajectories) / n,
                      samples_min=kmax, samples_max=max(sizes), pass_at=pass_curve, best_at=best_curve,
                      scored=scored)
