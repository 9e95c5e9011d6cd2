"""Trajectory datasets (RUNS) in Hugging Face Hub layout: what rollouts write and train reads.

One row per rollout, written with the same deterministic Parquet writer as instance datasets.
The nested columns (messages, tools, policy, test_report) are JSON strings, marked as such in
the schema, so that one Parquet schema holds every row whatever its messages contain;
``swegc.dataset.read_dataset`` and ``swegc train``'s reader decode them again.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from swegc.dataset import write_dataset
from swegc.records import Trajectory

TRAJECTORY_COLUMNS = tuple(f.name for f in fields(Trajectory))
TRAJECTORY_JSON_COLUMNS = frozenset({"policy", "messages", "tools", "test_report"})

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
