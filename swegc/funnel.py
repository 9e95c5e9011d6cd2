"""The funnel: how many items each stage of a run kept, and what the stage cost.

Compile (and synthesize) record one ``Stage`` per step in order: candidates read, filtered,
environment built, instance built, patches apply, validated, valid. Costs are the containers' own
CPU seconds (not the driver's wall time), wall seconds and bytes written (images, layers). A
funnel is kept in the build store, so it survives resumes, and funnels from several nodes merge
by adding.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable


@dataclass(frozen=True)
class Stage:
    stage: str
    count: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    bytes: int = 0
    # why items left at this stage: reason -> count (for "filtered", the filter reasons)
    reasons: dict[str, int] = field(default_factory=dict)

    def plus(self, other: Stage) -> Stage:
        reasons = dict(self.reasons)
        for reason, n in other.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
        return replace(self, count=self.count + other.count, cpu_s=self.cpu_s + other.cpu_s,
                       wall_s=self.wall_s + other.wall_s, bytes=self.bytes + other.bytes,
                       reasons=reasons)

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "count": self.count, "cpu_s": round(self.cpu_s, 3),
                "wall_s": round(self.wall_s, 3), "bytes": self.bytes,
                "reasons": dict(sorted(self.reasons.items()))}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stage:
        return cls(stage=str(data["stage"]), count=int(data.get("count", 0)),
                   cpu_s=float(data.get("cpu_s", 0.0)), wall_s=float(data.get("wall_s", 0.0)),
                   bytes=int(data.get("bytes", 0)),
                   reasons={str(k): int(v) for k, v in (data.get("reasons") or {}).items()})


def merge(funnels: Iterable[list[Stage]]) -> list[Stage]:
    """Add funnels stage by stage, keeping the order in which stages first appear."""
    merged: dict[str, Stage] = {}
    for funnel in funnels:
        for stage in funnel:
            merged[stage.stage] = merged[stage.stage].plus(stage) if stage.stage in merged else stage
    return list(merged.values())
