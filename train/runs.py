"""Reading trajectory datasets (RUNS) and instance datasets for train, rerank and eval.

A RUN is a JSONL file of ``Trajectory.to_json()`` rows, a parquet file, a folder in Hub layout
(parquet or JSONL files under ``data/``), or a folder of such files. Every record remembers
where it came from (``file:line`` for JSONL, ``file#row`` for parquet) for error messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.build_layout import BuildLayout
from swegc.errors import InputError
from swegc.records import Trajectory, read_jsonl

_SUFFIXES = (".jsonl", ".parquet")


@dataclass(frozen=True)
class Located:
    """A trajectory and where it was read from."""

    where: str
    source: str
    trajectory: Trajectory


def _files(path: Path) -> list[Path]:
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


def _rows(file: Path) -> list[tuple[str, dict[str, Any]]]:
    if file.suffix == ".jsonl":
        return read_jsonl(str(file), "trajectory")
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise InputError(f"{file}: cannot read parquet: {exc}") from None
    rows = []
    for i, row in enumerate(table.to_pylist()):
        rows.append((f"{file}#row{i}", {k: v for k, v in row.items() if v is not None}))
    return rows


def _decode_json_columns(row: dict[str, Any]) -> dict[str, Any]:
    # Hub-layout writers may keep nested columns as JSON strings to keep one parquet schema.
    for key in ("policy", "messages", "tools", "test_report"):
        if isinstance(row.get(key), str):
            try:
                row[key] = json.loads(row[key])
            except json.JSONDecodeError:
                pass
    return row


def read_runs(paths: list[str]) -> list[Located]:
    """Every trajectory of every RUN, in file order."""
    out: list[Located] = []
    for raw in paths:
        for file in _files(Path(raw)):
            for where, row in _rows(file):
                traj = Trajectory.from_json(_decode_json_columns(row), where=where)
                if not traj.instance_id:
                    raise InputError(f"{where}: trajectory has no instance_id")
                out.append(Located(where, raw, traj))
    return out


def read_problem_statements(path: str) -> dict[str, str]:
    """instance_id -> problem_statement from an instance dataset (JSONL, parquet or Hub folder)."""
    out: dict[str, str] = {}
    for file in _files(Path(path)):
        rows = read_jsonl(str(file), "instance") if file.suffix == ".jsonl" else _rows(file)
        for where, row in rows:
            if "instance_id" not in row or "problem_statement" not in row:
                raise InputError(f"{where}: an instance needs 'instance_id' and 'problem_statement'")
            out[str(row["instance_id"])] = str(row["problem_statement"])
    return out


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
