"""What happened to every synthetic candidate, and the build folder that says so.

Each candidate gets a report row (``reports/instances.jsonl``, as compile's instances do: its
status, reason and detail, plus its origin, source instance and functions); each stage of the
funnel counts what was still in after it and why the others left there; the valid tasks are
the dataset. ``write_build`` writes them, with the funnel (``reports/funnel.json``) and a
manifest, so that ``swegc status`` and every command that takes a build read the folder.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swegc import __version__
from swegc.build_layout import BuildLayout, ImageEntry, Manifest, write_manifest
from swegc.compiler.synthesis.bugs import BugCandidate
from swegc.funnel import Stage, write_funnel
from swegc.reasons import Reason
from swegc.records import Instance

PER_ENV_REACHED = Reason.PER_ENV_REACHED


@dataclass
class Tally:
    """Report rows, dataset rows, and the funnel's counts and costs of one run."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    generated: int = 0
    unused: Counter[str] = field(default_factory=Counter)  # never screened: per_env reached
    applied: Counter[str] = field(default_factory=Counter)  # reasons at the applied stage
    screened: Counter[str] = field(default_factory=Counter)
    validated: Counter[str] = field(default_factory=Counter)
    costs: dict[str, list[float]] = field(default_factory=lambda: {
        "map": [0.0, 0.0], "screen": [0.0, 0.0], "task": [0.0, 0.0]})  # [CPU s, wall s]
    layer_bytes: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)

    def report(self, tid: str, source: Instance, candidate: BugCandidate, status: str,
               reason: str | None, detail: str | None, **extra: Any) -> None:
        self.reports.append({
            "instance_id": tid, "repo": source.repo, "status": status, "reason": reason,
            "detail": (detail or "")[-2000:] or None, "version": source.version,
            "env_key": source.env_commit, "image": None, "FAIL_TO_PASS": 0, "PASS_TO_PASS": 0,
            "flaky_tests": [], "validation_s": 0.0, "build_s": 0.0, "origin": candidate.origin,
            "source_instance": source.instance_id, "functions": list(candidate.functions),
            **extra})

    def rejected(self, stage: Counter[str], tid: str, source: Instance,
                 candidate: BugCandidate, reason: str, detail: str) -> None:
        """A rejection, counted at ``stage`` (one of this tally's counters)."""
        stage[reason] += 1
        self.report(tid, source, candidate, "rejected", reason, detail)

    def skipped(self, tid: str, source: Instance, candidate: BugCandidate,
                screened: bool = True) -> None:
        """A candidate left because the environment had its tasks: after screening, or before
        (never looked at: it leaves the funnel at its first stage)."""
        (self.validated if screened else self.unused)[PER_ENV_REACHED] += 1
        self.report(tid, source, candidate, "skipped", PER_ENV_REACHED,
                    "the environment had --per-env valid tasks already")

    def funnel(self) -> list[Stage]:
        """Counts of what was still in after each stage, with why the others left there."""
        examined = self.generated - sum(self.unused.values())
        applied = examined - sum(self.applied.values())
        screened = applied - sum(self.screened.values())
        valid = screened - sum(self.validated.values())
        late = self.validated[PER_ENV_REACHED]
        task_reasons = {k: v for k, v in self.validated.items() if k != PER_ENV_REACHED}
        return [Stage("candidates", examined, *self.costs["map"], reasons=dict(self.unused)),
                Stage("applied", applied, reasons=dict(self.applied)),
                Stage("screened", screened, *self.costs["screen"], reasons=dict(self.screened)),
                Stage("validated", valid + sum(task_reasons.values()),
                      reasons={PER_ENV_REACHED: late} if late else {}),
                Stage("valid", valid, *self.costs["task"], bytes=self.layer_bytes,
                      reasons=task_reasons)]


def write_build(layout: BuildLayout, tally: Tally, *, split: str, build: Path,
                strategies: tuple[str, ...], per_env: int) -> None:
    """The dataset, the reports, the funnel and (last) the manifest of the SYNTH folder."""
    from swegc.compiler.report import write_reports
    from swegc.dataset import write_dataset

    rows = sorted(tally.rows, key=lambda r: r["instance_id"])
    repos = sorted({r["repo"] for r in tally.reports} | {r["repo"] for r in rows})
    write_dataset(layout.dataset_dir, rows, split=split,
                  pretty_name="swegc synthetic: " + ", ".join(repos),
                  description=f"Synthetic SWE tasks made by swegc {__version__} "
                              f"(`swegc synthesize`) from {build}.")
    write_reports(layout.root, tally.reports, [])
    write_funnel(layout.funnel_report, tally.funnel(), command="synthesize",
                 sources=tally.sources, strategies=list(strategies), per_env=per_env)
    counts = Counter(r["status"] for r in tally.reports)
    counts.update(rows=len(rows))
    write_manifest(layout, Manifest(
        swegc_version=__version__, split=split, specs=(),
        images={r["instance_id"]: ImageEntry(r["image_tag"], r["image_id"]) for r in rows},
        counts=dict(counts)))
