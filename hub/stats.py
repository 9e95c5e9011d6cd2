"""Figures for cards: validation statistics of a build, resolve rate and pass@k of rollouts.

pass@k is the core's (swegc.pass_at_k), the same estimator `swegc metrics` reports.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from swegc.pass_at_k import pass_at_curve
from swegc.records import Instance


@dataclass(frozen=True)
class ValidationStats:
    """What compiling found, from reports/instances.jsonl."""

    candidates: int
    valid: int
    rejections: dict[str, int]
    flaky_tests: int
    instances_with_flaky: int
    runs: Counter[int] = field(default_factory=Counter)  # runs per side -> instances
    fail_to_pass: int = 0
    pass_to_pass: int = 0
    validation_seconds: float = 0.0


def validation_stats(reports: list[dict[str, Any]], instances: Iterable[Instance]) -> ValidationStats:
    """The figures of a build from its instance reports and its valid instances."""
    instances = list(instances)
    rejections = Counter(str(r.get("reason") or r.get("status")) for r in reports if r.get("status") != "valid")
    runs: Counter[int] = Counter()
    for instance in instances:
        if instance.validation.get("runs"):
            runs[int(instance.validation["runs"])] += 1
    return ValidationStats(
        candidates=len(reports), valid=sum(r.get("status") == "valid" for r in reports),
        rejections=dict(sorted(rejections.items(), key=lambda kv: (-kv[1], kv[0]))),
        flaky_tests=sum(len(i.flaky_tests) for i in instances),
        instances_with_flaky=sum(bool(i.flaky_tests) for i in instances), runs=runs,
        fail_to_pass=sum(len(i.FAIL_TO_PASS) for i in instances),
        pass_to_pass=sum(len(i.PASS_TO_PASS) for i in instances),
        validation_seconds=sum(float(r.get("validation_s") or 0) for r in reports))


@dataclass(frozen=True)
class RolloutStats:
    trajectories: int
    instances: int
    resolved: int
    pass_at: list[float]
    exit_statuses: dict[str, int]
    samples_min: int
    samples_max: int

    @property
    def resolve_rate(self) -> float:
        return self.resolved / self.trajectories if self.trajectories else 0.0


def rollout_stats(rows: list[dict[str, Any]]) -> RolloutStats:
    outcomes: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        outcomes[str(row["instance_id"])].append(bool(row.get("resolved")))
    sizes = [len(v) for v in outcomes.values()] or [0]
    return RolloutStats(len(rows), len(outcomes), sum(bool(r.get("resolved")) for r in rows),
                        pass_at_curve(outcomes), dict(Counter(str(r.get("exit_status")) for r in rows)),
                        min(sizes), max(sizes))
