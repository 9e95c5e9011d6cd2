"""One row per compiled repository for benchmarks/README.md ("SWE-Gym's eleven repositories").

Reads what `swegc compile` left in each build folder (reports/instances.jsonl,
reports/envs.jsonl, the run logs) and prints a Markdown table: candidates tried, valid,
rejected by reason, flaky tests, env build time and size, instance layer size (median, max),
and validation time against the bare test time (the test command's own runs, from the
"# exit N after S" line each run log starts with).

    python benchmarks/swegym_table.py build/trial-hydra build/trial-conan ...

The sample of each build is the pull requests its spec selected (`source.filters.numbers`):
rows rejected as `not_selected` are not candidates of the sample and are not counted.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

_RUN = re.compile(r"^# exit -?\d+ after ([0-9.]+)s", re.MULTILINE)


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _bare_seconds(build: Path, instance_id: str) -> float:
    total = 0.0
    for log in (build / "logs" / instance_id).glob("*.log"):
        total += sum(float(s) for s in _RUN.findall(log.read_text(errors="replace")))
    return total


def row(build: Path) -> str:
    instances = [r for r in _rows(build / "reports" / "instances.jsonl")
                 if r["reason"] != "not_selected"]
    envs = [e for e in _rows(build / "reports" / "envs.jsonl") if e["instances"]]
    repo = instances[0]["repo"] if instances else build.name
    valid = [r for r in instances if r["status"] == "valid"]
    reasons = Counter(r["reason"] for r in instances if r["status"] != "valid")
    flaky = sum(len(r["flaky_tests"]) for r in instances)
    built = [e for e in envs if e["status"] == "built"]
    env_cell = "; ".join(f"{e['versions']}: {e['build_s']:.0f} s, {_size(e['size_bytes'])}"
                         for e in built) or "none built"
    if len(built) < len(envs):
        env_cell += f" ({len(envs) - len(built)} failed)"
    layers = [r["layer_bytes"] for r in valid if r.get("layer_bytes")]
    layer_cell = (f"{_size(statistics.median(layers))} / {_size(max(layers))}" if layers else "—")
    validated = [r for r in instances if r["validation_s"]]
    val = sum(r["validation_s"] for r in validated)
    bare = sum(_bare_seconds(build, r["instance_id"]) for r in validated)
    time_cell = f"{val:.0f} s / {bare:.0f} s" if validated else "—"
    reason_cell = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "—"
    return (f"| {repo} | {len(instances)} | {len(valid)} | {reason_cell} | {flaky} | {env_cell} "
            f"| {layer_cell} | {time_cell} |")


def main(argv: list[str]) -> None:
    print("| repository | candidates | valid | rejected (reason n) | flaky tests | env build "
          "(versions: time, size) | instance layer median / max | validation / bare tests |")
    print("|---|---:|---:|---|---:|---|---|---|")
    for arg in argv:
        print(row(Path(arg)))


if __name__ == "__main__":
    main(sys.argv[1:])
