"""Every path of a build folder (``swegc compile --out``, ``swegc mine --out``), in one place.

The compiler writes the folder, ``swegc status`` and ``swegc images rm`` read it back, ``swegc
mine`` writes candidates into it, and the README's table describes it. Each of them asks this
module for a path instead of joining its own literals, so a file has one name everywhere:
``candidates/<owner>__<name>.jsonl`` is the same file whether ``mine`` or ``compile`` wrote it.

::

    README.md, data/<split>-00000-of-00001.parquet   the dataset in Hub layout (the card, shards)
    manifest.json                                    what the last compile built, from what
    reports/instances.jsonl, reports/envs.jsonl      every instance and env with its status
    reports/funnel.json                              each stage's count, CPU, wall time, bytes
    raw/, candidates/, lite/  <owner>__<name>.jsonl  mined and considered pull requests
    logs/<instance_id>/..., logs/images/...          test runs and image builds
    locks/<env_key>.txt                              each env's resolved package set
    store.sqlite                                     the build store (resumable units)
    partial/                                         a compile of some instances only
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.atomic_files import atomic_write
from swegc.naming import repo_slug

MANIFEST_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BuildLayout:
    """The paths of the build folder at ``root``; nothing is created until written."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def looks_like_build(self) -> bool:
        """Whether the folder holds what only swegc writes there (the store, the manifest, the
        reports, mined candidates), so that writing a card and shards into it destroys nothing
        of anyone else's."""
        return any(path.exists() for path in (self.store, self.manifest, self.reports_dir,
                                              self.root / "candidates", self.root / "raw",
                                              self.partial.root))

    # -- the dataset (Hub layout) ------------------------------------------------------------
    @property
    def dataset_dir(self) -> Path:
        """The folder ``datasets.load_dataset`` reads: the card and ``data/``."""
        return self.root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def shard(self, split: str) -> Path:
        return self.data_dir / f"{split}-00000-of-00001.parquet"

    @property
    def card(self) -> Path:
        return self.root / "README.md"

    # -- what the compile reports ------------------------------------------------------------
    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def instances_report(self) -> Path:
        return self.reports_dir / "instances.jsonl"

    @property
    def envs_report(self) -> Path:
        return self.reports_dir / "envs.jsonl"

    @property
    def funnel_report(self) -> Path:
        """The funnel of the run that wrote the folder (``swegc.funnel``): compile's or
        synthesize's."""
        return self.reports_dir / "funnel.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    # -- pull requests, mined and considered ---------------------------------------------------
    def candidates(self, repo: str) -> Path:
        """The candidates of ``owner/name``: those its filters keep (mine) or consider (compile)."""
        return self.root / "candidates" / f"{repo_slug(repo)}.jsonl"

    def rejected_candidates(self, repo: str) -> Path:
        return self.root / "candidates" / f"{repo_slug(repo)}.rejected.jsonl"

    def raw_candidates(self, repo: str) -> Path:
        return self.root / "raw" / f"{repo_slug(repo)}.jsonl"

    def lite_candidates(self, repo: str) -> Path:
        return self.root / "lite" / f"{repo_slug(repo)}.jsonl"

    # -- logs, locks, the store ----------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        """Holds ``<instance_id>/{before,after}-N.log`` (validation writes them) and ``images/``."""
        return self.root / "logs"

    def instance_logs(self, instance_id: str) -> Path:
        return self.logs_dir / instance_id

    @property
    def image_logs(self) -> Path:
        return self.logs_dir / "images"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    def lock(self, env_key: str) -> Path:
        return self.locks_dir / f"{env_key}.txt"

    @property
    def store(self) -> Path:
        return self.root / "store.sqlite"

    @property
    def partial(self) -> BuildLayout:
        """Where a compile of some instances only (``--instance``, ``--limit``) writes its
        dataset, reports, candidates and locks, leaving the full ones as they are. The store
        and the logs stay those of the build folder."""
        return BuildLayout(self.root / "partial")


@dataclass(frozen=True)
class SpecEntry:
    path: str
    spec_hash: str


@dataclass(frozen=True)
class ImageEntry:
    name: str
    id: str


@dataclass(frozen=True)
class Manifest:
    """What a compile built and from what: written last, so it describes a finished compile.

    ``images`` maps each valid instance's id to the image it was validated in; ``counts`` are
    the instance statuses (valid, rejected, ...) and the number of rows.
    """

    swegc_version: str
    specs: tuple[SpecEntry, ...]
    images: dict[str, ImageEntry]
    counts: dict[str, int]
    split: str = "train"
    schema_version: int = MANIFEST_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "swegc_version": self.swegc_version,
                "split": self.split,
                "specs": [{"path": s.path, "spec_hash": s.spec_hash} for s in self.specs],
                "images": {iid: {"name": i.name, "id": i.id}
                           for iid, i in sorted(self.images.items())},
                "counts": dict(sorted(self.counts.items()))}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(swegc_version=data["swegc_version"], split=data["split"],
                   specs=tuple(SpecEntry(**s) for s in data["specs"]),
                   images={iid: ImageEntry(**i) for iid, i in data["images"].items()},
                   counts=dict(data["counts"]), schema_version=data["schema_version"])


def write_manifest(layout: BuildLayout, manifest: Manifest) -> Path:
    """Writes ``manifest.json`` atomically (keys sorted: an unchanged build, the same bytes)."""
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(layout.manifest, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return layout.manifest


def read_manifest(layout: BuildLayout) -> Manifest:
    from swegc.errors import InputError

    try:
        data = json.loads(layout.manifest.read_text(encoding="utf-8"))
        return Manifest.from_json(data)
    except FileNotFoundError:
        raise InputError(f"{layout.manifest}: no manifest; `swegc compile` writes it when it "
                         "finishes") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{layout.manifest}: not a swegc manifest ({exc}); rerun "
                         "`swegc compile` to rewrite it") from None
