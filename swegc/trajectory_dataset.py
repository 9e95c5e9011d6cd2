"""Trajectory datasets (RUNS) in Hugging Face Hub layout: what rollouts write and train reads.

One row per rollout, written with the same deterministic Parquet writer as instance datasets.
The nested columns (messages, tools, policy, test_report) are JSON strings, marked as such in
the schema, so that one Parquet schema holds every row whatever its messages contain;
``read_trajectories`` (used by ``swegc train`` and the replay policy) decodes them again.

A RUN to read is a JSONL file of ``Trajectory.to_json()`` rows, a parquet file, a folder in Hub
layout (parquet or JSONL files under ``data/``), or a folder of such files. Every record
remembers where it came from (``file:line`` for JSONL, ``file#row`` for parquet).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from swegc.build_layout import BuildLayout
from swegc.dataset import write_dataset
from swegc.errors import InputError
from swegc.nesting import loads
from swegc.records import Trajectory, read_jsonl

TRAJECTORY_COLUMNS = tuple(f.name for f in fields(Trajectory))
TRAJECTORY_JSON_COLUMNS = frozenset({"policy", "messages", "tools", "test_report", "suspicious"})

TRAJECTORY_DOCS = {
    "instance_id": "The task instance the rollout ran on (SWE-bench's id).",
    "run_id": "Unique id of this rollout: instance, sample and a hash of its settings.",
    "policy": "JSON: the policy's name, model, sampling parameters and seed.",
    "messages": "JSON: the OpenAI chat messages, tool calls with their arguments as JSON strings.",
    "tools": "JSON: the tool schemas the policy was offered.",
    "exit_status": "submitted, step_limit, context_limit, stuck, format_error, timeout or error.",
    "patch": "The working tree's diff against base_commit when the rollout ended.",
    "n_steps": "Number of policy calls.",
    "prompt_tokens": "Prompt tokens over all policy calls.",
    "completion_tokens": "Completion tokens over all policy calls.",
    "wall_time_s": "Seconds from the sandbox's start to the end of grading.",
    "resolved": "Whether the patch resolves the instance (every FAIL_TO_PASS and PASS_TO_PASS passes).",
    "test_report": "JSON: status of every FAIL_TO_PASS and PASS_TO_PASS test after the patch.",
    "image": "The image the rollout ran in (the instance row's pinned reference).",
    "sample": "Index of this sample among the instance's samples.",
    "cost": "Cost the policy reported (hosted APIs), else 0.",
    "grade": "SWE-bench's FULL, PARTIAL or NO; empty when the patch was empty or not graded.",
    "error": "What failed, when the rollout or its grading could not run.",
    "swegc_version": "Version of swegc that ran the rollout.",
    "suspicious": "JSON: what the patch's non-test code uses that looks like reward hacking "
                  "(file, line, rule, detail each; empty: nothing). `swegc train rft` leaves "
                  "such rows out unless --include-suspicious.",
    "schema_version": "Version of this row format.",
}

ABOUT = """Each row is one agent rollout on a task instance: the whole conversation (the message
list is the trajectory), the patch it left, and whether that patch resolves the instance as
graded by the instance's own tests in a fresh container.

```python
import json
from datasets import load_dataset

runs = load_dataset("path/or/org-name", split="train")
row = runs[0]
messages = json.loads(row["messages"])
print(row["instance_id"], row["exit_status"], row["resolved"], len(messages))
```

Written by `swegc rollout`; `swegc train rft`, `swegc train verifier`, `swegc rerank` and
`swegc metrics` read it as it is.
"""


def write_trajectories(out_dir: Path, trajectories: list[Trajectory], *, split: str = "train",
                       pretty_name: str, description: str) -> Path:
    """Writes ``trajectories`` as one split of a Hub-layout dataset; returns the Parquet path."""
    rows: list[dict[str, Any]] = [t.to_json() for t in trajectories]
    return write_dataset(out_dir, rows, split=split, pretty_name=pretty_name,
                         description=description, features_order=list(TRAJECTORY_COLUMNS),
                         json_columns=TRAJECTORY_JSON_COLUMNS, column_docs=TRAJECTORY_DOCS,
                         about=ABOUT, tags=["code", "software-engineering", "agent-trajectories", "swegc"],
                         sort_key=lambda r: (r["instance_id"], r["sample"], r["run_id"]))


_SUFFIXES = (".jsonl", ".parquet")


def dataset_files(path: Path) -> list[Path]:
    """The JSONL and parquet files of a dataset given as a file, a Hub-layout folder or a folder."""
    if path.is_file():
        if path.suffix not in _SUFFIXES:
            raise InputError(f"{path}: not a trajectory file; expected .jsonl or .parquet")
        return [path]
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; give a JSONL file of trajectories or "
                         "a folder in Hub layout")
    hub = BuildLayout(path).data_dir
    root = hub if hub.is_dir() else path
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
    if not found:
        raise InputError(f"{path}: no .jsonl or .parquet trajectory files found in {root}")
    return found


def file_rows(file: Path) -> list[tuple[str, dict[str, Any]]]:
    """The rows of one JSONL or parquet file, each with where it came from; nulls left out."""
    if file.suffix == ".jsonl":
        return read_jsonl(str(file), "trajectory")
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise InputError(f"{file}: cannot read parquet: {exc}") from None
    return [(f"{file}#row{i}", {k: v for k, v in row.items() if v is not None})
            for i, row in enumerate(table.to_pylist())]


def _decode_json_columns(row: dict[str, Any]) -> dict[str, Any]:
    # Hub-layout writers may keep nested columns as JSON strings to keep one parquet schema.
    for key in TRAJECTORY_JSON_COLUMNS:
        if isinstance(row.get(key), str):
            try:
                row[key] = loads(row[key])
            except json.JSONDecodeError:
                pass
    return row


def read_trajectories(source: str | Path) -> list[tuple[str, Trajectory]]:
    """Every trajectory of a RUN, in file order, each with where it was read from."""
    out: list[tuple[str, Trajectory]] = []
    for file in dataset_files(Path(source)):
        for where, row in file_rows(file):
            traj = Trajectory.from_json(_decode_json_columns(row), where=where)
            if not traj.instance_id:
                raise InputError(f"{where}: trajectory has no instance_id")
            out.append((where, traj))
    return out
