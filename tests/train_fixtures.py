"""Helpers for the train tests: write runs, build the tiny base model once per session."""

from __future__ import annotations

import json
from pathlib import Path

from swegc.records import Trajectory
from swegc.train.toy import toy_trajectory


def write_run(path: Path, trajectories: list[Trajectory]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(t.to_json()) + "\n" for t in trajectories), encoding="utf-8")
    return path


def toy_runs(instances: int = 4, samples: int = 3) -> list[Trajectory]:
    """Per instance, samples alternate resolved / unresolved, with 2.. steps."""
    return [toy_trajectory(f"o__r-{i}", f"s{j}", resolved=(i + j) % 2 == 0, steps=2 + j)
            for i in range(instances) for j in range(samples)]


def build_tiny_base(folder: Path, trajectories: list[Trajectory]) -> Path:
    """Save a tiny Qwen2 model and a tokenizer trained on ``trajectories``' text to ``folder``."""
    from swegc.train.tiny import save_tiny
    from swegc.train.toy import corpus

    return save_tiny(folder, corpus(trajectories))
