"""Reading trajectory datasets (RUNS) and instance datasets for train, rerank and eval.

What a RUN may be, and how it is read, is ``swegc.trajectory_dataset``'s (shared with the replay
policy); every record remembers where it came from for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swegc.records import Instance, Trajectory, read_jsonl
from swegc.trajectory_dataset import dataset_files, file_rows, read_trajectories


@dataclass(frozen=True)
class Located:
    """A trajectory and where it was read from."""

    where: str
    source: str
    trajectory: Trajectory


def read_runs(paths: list[str]) -> list[Located]:
    """Every trajectory of every RUN, in file order."""
    return [Located(where, raw, traj) for raw in paths for where, traj in read_trajectories(raw)]


def read_instances(path: str) -> dict[str, Instance]:
    """Instances by id from an instance dataset (JSONL, parquet or Hub folder); each needs its
    problem statement, the text train and rerank put before a trajectory."""
    out: dict[str, Instance] = {}
    for file in dataset_files(Path(path)):
        rows = read_jsonl(str(file), "instance") if file.suffix == ".jsonl" else file_rows(file)
        for where, row in rows:
            instance = Instance.from_row(row, where, require=("problem_statement",))
            out[instance.instance_id] = instance
    return out


def read_problem_statements(path: str) -> dict[str, str]:
    """instance_id -> problem_statement from an instance dataset (JSONL, parquet or Hub folder)."""
    return {iid: instance.problem_statement for iid, instance in read_instances(path).items()}


def problem_statement(traj: Trajectory, statements: dict[str, str] | None = None) -> str:
    """The issue text: from ``statements`` when it has the instance, else the first user message."""
    if statements and traj.instance_id in statements:
        return statements[traj.instance_id]
    for msg in traj.messages:
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""
