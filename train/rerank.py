"""``swegc rerank``: score every trajectory with a verifier and pick the best per instance.

Writes ``scores.jsonl`` (one row per trajectory: instance_id, run_id, where, score, resolved)
and ``best.jsonl`` (the chosen trajectory per instance, as full trajectory rows, so it is itself
a RUN). Ties in score go to the smaller (run_id, content hash).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from swegc.train.capping import trajectory_digest
from swegc.train.runs import Located

SCORES_FILE = "scores.jsonl"
BEST_FILE = "best.jsonl"
SCORES_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Scored:
    loc: Located
    score: float


def pick_best(scored: list[Scored]) -> dict[str, Scored]:
    """instance_id -> the top-scored trajectory (deterministic among ties)."""
    groups: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        groups[s.loc.trajectory.instance_id].append(s)
    return {iid: min(items, key=lambda s: (-s.score, s.loc.trajectory.run_id, trajectory_digest(s.loc.trajectory)))
            for iid, items in sorted(groups.items())}


def write_outputs(out_dir: str, scored: list[Scored], best: dict[str, Scored]) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores_path, best_path = out / SCORES_FILE, out / BEST_FILE
    with scores_path.open("w", encoding="utf-8") as handle:
        for s in scored:
            t = s.loc.trajectory
            handle.write(json.dumps({"schema_version": SCORES_SCHEMA_VERSION, "instance_id": t.instance_id,
                                     "run_id": t.run_id, "where": s.loc.where, "score": s.score,
                                     "resolved": t.resolved}) + "\n")
    with best_path.open("w", encoding="utf-8") as handle:
        for s in best.values():
            handle.write(json.dumps(s.loc.trajectory.to_json()) + "\n")
    return scores_path, best_path


def read_scores(path: str) -> dict[tuple[str, str], float]:
    """(instance_id, run_id) -> score from a scores.jsonl (or a rerank output folder)."""
    from swegc.errors import InputError
    from swegc.records import read_jsonl

    p = Path(path)
    if p.is_dir():
        p = p / SCORES_FILE
    out: dict[tuple[str, str], float] = {}
    for where, row in read_jsonl(str(p), "score"):
        try:
            out[(str(row["instance_id"]), str(row["run_id"]))] = float(row["score"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: a score row needs instance_id, run_id and a numeric score") from None
    return out
