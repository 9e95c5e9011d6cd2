"""What a folder given to ``swegc publish`` holds: a build, a trajectory dataset, or a checkpoint.

Each kind is recognised by the files swegc writes into it, so that a wrong folder is an error
that says what was expected rather than a half-published repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swegc.errors import InputError

TRAIN_META_FILE = "swegc_train.json"  # written by swegc train next to every checkpoint
KINDS = ("build", "runs", "checkpoint")


@dataclass(frozen=True)
class PublishFolder:
    """A folder and its kind; ``splits`` are the dataset splits found under ``data/``."""

    path: Path
    kind: str
    splits: tuple[str, ...] = ()


def dataset_splits(folder: Path) -> tuple[str, ...]:
    shards = sorted((folder / "data").glob("*-00000-of-00001.parquet"))
    return tuple(p.name.split("-00000-of-00001")[0] for p in shards)


def _columns(folder: Path, split: str) -> set[str]:
    import pyarrow.parquet as pq

    return set(pq.read_schema(folder / "data" / f"{split}-00000-of-00001.parquet").names)


def detect(path: Path | str) -> PublishFolder:
    """The kind of ``path``; an InputError that names what each kind needs otherwise."""
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; give a build (swegc compile --out), a RUNS "
                         "folder (swegc rollout --out) or a checkpoint (swegc train ... --out)")
    if (folder / TRAIN_META_FILE).is_file():
        return PublishFolder(folder, "checkpoint")
    splits = dataset_splits(folder)
    if splits:
        columns = _columns(folder, splits[0])
        if (folder / "reports" / "instances.jsonl").is_file() and "FAIL_TO_PASS" in columns:
            return PublishFolder(folder, "build", splits)
        if {"run_id", "messages", "resolved"} <= columns:
            return PublishFolder(folder, "runs", splits)
    if (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file():
        raise InputError(f"{folder}: a model folder without {TRAIN_META_FILE}; swegc publishes "
                         "checkpoints written by `swegc train rft|verifier` (upload other models "
                         "with `huggingface-cli upload`)")
    raise InputError(
        f"{folder}: not a folder swegc can publish. Expected one of: a build (reports/instances.jsonl "
        "and data/*.parquet of instances, from `swegc compile --out`), a RUNS folder (data/*.parquet "
        f"of trajectories, from `swegc rollout --out`), or a checkpoint ({TRAIN_META_FILE}, from "
        "`swegc train rft|verifier --out`)")
