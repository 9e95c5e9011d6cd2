"""The funnel: how many items each stage of a run kept, and what the stage cost.

Compile (and synthesize) record one ``Stage`` per step in order: candidates read, filtered,
environment built, instance built, patches apply, validated, valid. ``count`` is how many items
were still in after the stage (so counts never grow down the funnel); ``reasons`` says why the
others left there. Costs are what the stage's units spent, whether their items stayed or left:

- ``cpu_s``: the containers' own CPU time (user + system of every process in the container, as
  the engine's cgroup accounting counts it, read just before the container is removed), not the
  driver's. The engine's own work (``docker commit``, layer diffs) and the driver's git work are
  not in it.
- ``wall_s``: the units' own wall time, added up (units that ran side by side count each).
- ``bytes``: what the stage wrote to disk: the layer each image build committed.

Units carry their costs in their results (``Cost``), which the build store keeps: a resume
counts a stored result's cost once, as it was measured, and results that come back from Ray
nodes carry theirs. The driver makes a small funnel of each result and adds them up (``merge``);
``write_funnel`` saves it as ``reports/funnel.json``, which ``swegc status`` reads whatever wrote
it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from swegc.errors import InputError
from swegc.nesting import loads

FUNNEL_SCHEMA_VERSION = 1
# compile's stages, in order (synthesize names its own)
CANDIDATES = "candidates_read"
FILTERED = "filtered"
ENV_BUILT = "env_built"
INSTANCE_BUILT = "instance_built"
PATCHES_APPLY = "patches_apply"
VALIDATED = "validated"
VALID = "valid"
COMPILE_STAGES = (CANDIDATES, FILTERED, ENV_BUILT, INSTANCE_BUILT, PATCHES_APPLY, VALIDATED, VALID)


@dataclass(frozen=True)
class Cost:
    """What one unit of work spent: its containers' CPU seconds, its wall seconds and the bytes
    it wrote (a committed layer)."""

    cpu_s: float = 0.0
    wall_s: float = 0.0
    bytes: int = 0

    def plus(self, other: Cost) -> Cost:
        return Cost(self.cpu_s + other.cpu_s, self.wall_s + other.wall_s, self.bytes + other.bytes)

    def to_json(self) -> dict[str, Any]:
        return {"cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3), "bytes": self.bytes}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Cost:
        data = data or {}
        return cls(float(data.get("cpu_s") or 0.0), float(data.get("wall_s") or 0.0),
                   int(data.get("bytes") or 0))


@dataclass(frozen=True)
class Stage:
    stage: str
    count: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    bytes: int = 0
    # why items left at this stage: reason -> count (for "filtered", the filter reasons)
    reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, stage: str, count: int = 0, cost: Cost = Cost(),
           reason: str | None = None) -> Stage:
        """One unit's part of a stage: ``count`` items kept, its cost, and the reason one item
        left here (when it did)."""
        return cls(stage, count, cost.cpu_s, cost.wall_s, cost.bytes,
                   {reason: 1} if reason else {})

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


def passed(stages: Iterable[str], last: str, cost_at: dict[str, Cost] | None = None,
           left: str | None = None, reason: str | None = None) -> list[Stage]:
    """One item's funnel: counted in every stage of ``stages`` up to ``last`` (the last one it
    passed), leaving at ``left`` (the stage after, with ``reason``) unless it passed them all;
    ``cost_at`` puts the costs its units spent in the stages that spent them."""
    costs = cost_at or {}
    names = list(stages)
    kept = names[: names.index(last) + 1] if last in names else []
    funnel = [Stage.of(name, 1, costs.get(name, Cost())) for name in kept]
    if left is not None:
        funnel.append(Stage.of(left, 0, costs.get(left, Cost()), reason or "unknown"))
    return funnel


def totals(stages: list[Stage]) -> dict[str, Any]:
    """The figures a reader compares runs by: CPU-hours, wall-hours and bytes per valid item
    (the last stage's count; None when nothing was valid), and the totals."""
    valid = stages[-1].count if stages else 0
    cpu = sum(s.cpu_s for s in stages)
    wall = sum(s.wall_s for s in stages)
    written = sum(s.bytes for s in stages)
    per = (lambda x: x / valid) if valid else (lambda x: None)
    cpu_h = per(cpu / 3600)
    return {"valid": valid, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "bytes": written,
            "cpu_h_per_valid": round(cpu_h, 6) if cpu_h is not None else None,
            "wall_h_per_valid": round(wall / 3600 / valid, 6) if valid else None,
            "bytes_per_valid": int(written / valid) if valid else None}


def write_funnel(path: Path, stages: list[Stage], **extra: Any) -> None:
    """``reports/funnel.json``: the stages in order, the totals, and what the writer adds
    (compile: ``disk_per_valid``); written whole, sorted, so an unchanged run rewrites the
    same bytes."""
    from swegc.atomic_files import atomic_write

    data = {"schema_version": FUNNEL_SCHEMA_VERSION,
            "funnel": [s.to_json() for s in stages], **totals(stages), **extra}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_funnel(path: Path) -> dict[str, Any] | None:
    """A funnel file as written (any writer's), its stages typed under ``stages``; None when
    there is none. Totals a writer left out are worked out from the stages.

    A file that is not one (cut short, not an object, a count that is negative or grows down
    the funnel) is an ``InputError`` naming the file and the stage."""
    if not path.is_file():
        return None
    redo = ("; run the command that wrote the build again to rewrite it (swegc compile runs "
            "nothing that is stored)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start + 1}){redo}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        data = loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}){redo}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object with a `funnel` list, not "
                         f"{_json_kind(data)}{redo}")
    listed = data.get("funnel")
    if listed is not None and not isinstance(listed, list):
        raise InputError(f"{path}: `funnel` is {_json_kind(listed)}, not a list of stages{redo}")
    stages = [_read_stage(f"{path}: funnel[{index}]", item, redo)
              for index, item in enumerate(listed or [])]
    for before, stage in zip(stages, stages[1:]):
        if stage.count > before.count:
            raise InputError(f"{path}: stage {stage.stage} counts {stage.count}, more than the "
                             f"{before.count} of {before.stage} before it (counts never grow "
                             f"down the funnel){redo}")
    for key in _TOTALS:
        value = data.get(key)
        if value is not None and not _amount(value):
            raise InputError(f"{path}: `{key}` is {value!r}, not a number of 0 or more{redo}")
    return {**totals(stages), **data, "stages": stages}


_TOTALS = ("valid", "cpu_s", "wall_s", "bytes", "cpu_h_per_valid", "wall_h_per_valid",
           "bytes_per_valid", "disk_per_valid")


def _amount(value: Any, whole: bool = False) -> bool:
    """Whether ``value`` is a finite number of 0 or more (a whole one with ``whole``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value >= 0 and (not whole or float(value).is_integer())


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true or false",
             type(None): "null"}
    return names.get(type(value), "a number")


def _read_stage(where: str, item: Any, redo: str) -> Stage:
    if not isinstance(item, dict):
        raise InputError(f"{where} is {_json_kind(item)}, not a stage object{redo}")
    name = item.get("stage")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where} has no `stage` name{redo}")
    where = f"{where} ({name})"
    for key, whole in (("count", True), ("cpu_s", False), ("wall_s", False), ("bytes", True)):
        if key in item and not _amount(item[key], whole):
            kind = "a whole number" if whole else "a number"
            raise InputError(f"{where}: `{key}` is {item[key]!r}, not {kind} of 0 or more{redo}")
    reasons = item.get("reasons") or {}
    if not isinstance(reasons, dict) or not all(_amount(n, True) for n in reasons.values()):
        raise InputError(f"{where}: `reasons` is {reasons!r}, not an object of reason -> count "
                         f"(0 or more){redo}")
    return Stage.from_json(item)


def funnel_markdown(data: dict[str, Any] | None) -> str | None:
    """A short summary of a funnel (``read_funnel``'s) for a dataset card: one table row per
    stage and the cost per valid item; None when there is no funnel."""
    if data is None or not data.get("stages"):
        return None
    stages: list[Stage] = data["stages"]
    rows = ["| stage | count | CPU s | wall s | written | why they left |", "|---|---:|---:|---:|---:|---|"]
    for stage in stages:
        why = ", ".join(f"`{k}` {v}" for k, v in sorted(stage.reasons.items(),
                                                         key=lambda kv: (-kv[1], kv[0])))
        rows.append(f"| {stage.stage} | {stage.count} | {stage.cpu_s:,.1f} | {stage.wall_s:,.1f} "
                    f"| {stage.bytes / 1e6:,.1f} MB | {why} |")
    valid = int(data.get("valid") or 0)
    if valid:
        disk = data.get("disk_per_valid")
        per = (f"Per valid instance: {float(data['cpu_h_per_valid']):.4f} CPU-hours"
               + (f" and {int(disk) / 1e6:,.1f} MB of disk (its layer and its share of its "
                  "environment's)" if disk is not None else "") + ".")
    else:
        per = "No instance was valid."
    return ("From the candidates read to the valid instances, what each stage kept and what it "
            "cost: CPU is the containers' own CPU time (image builds, validation), wall the "
            "units' own time added up, written the image layers committed.\n\n"
            + "\n".join(rows) + "\n\n" + per)
