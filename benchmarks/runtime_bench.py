"""Runtime benchmarks: gold rollouts per hour, and grading time against the bare test time.

    python benchmarks/runtime_bench.py [--out benchmarks/results/runtime.json]

1. Rollouts per hour: ``swegc rollout`` with the ``gold`` policy on the compiled example
   (3 instances x 2 samples, ``--jobs 2``), from sandbox start to graded trajectory; the wall
   time of the whole command, including writing the dataset.
2. Grading overhead: ``grade_patch`` of each instance's own patch on a generated repository whose
   test suite takes about 3 s a run (a fresh sandbox, the patch applied, test files reset, the
   test_patch applied, one run, parse, grade), divided by the bare time of the same test command
   run once in a ready container with both patches applied (timed inside the container).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from compile_bench import SLOW_SPEC, make_slow_repo, run_compile  # noqa: E402

SWEGC = [sys.executable, "-m", "swegc.cli"]


def gold_rollouts(work: Path, samples: int = 2, jobs: int = 2) -> dict:
    build = work / "example"
    run_compile(ROOT / "examples" / "specs", build)
    out = work / "runs"
    start = time.monotonic()
    result = subprocess.run([*SWEGC, "rollout", str(build), "--out", str(out), "--policy", "gold",
                             "--samples", str(samples), "--jobs", str(jobs)],
                            capture_output=True, text=True)
    wall = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"rollout failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    from swegc.dataset import read_dataset

    rows = read_dataset(out)
    per = [r["wall_time_s"] for r in rows]
    return {"rollouts": len(rows), "resolved": sum(r["resolved"] for r in rows), "jobs": jobs,
            "wall_s": round(wall, 2), "rollouts_per_hour": round(len(rows) / wall * 3600, 1),
            "mean_rollout_s": round(statistics.mean(per), 2)}


def bare_time(row: dict) -> float:
    """Seconds one run of the test command takes in a ready container, patches applied."""
    from swegc.runtime.sandbox import open_sandbox

    with open_sandbox(row["image"]) as box:
        box.write_file("/tmp/t.patch", row["test_patch"].encode())
        box.write_file("/tmp/f.patch", row["patch"].encode())
        box.execute("git apply /tmp/t.patch && git apply /tmp/f.patch", timeout_s=120)
        script = (f"s=$(date +%s%N); {row['test_command']} >/dev/null 2>&1; e=$(date +%s%N); "
                  "echo $(( (e - s) / 1000000 ))")
        out = box.execute(script, timeout_s=3600).output.strip().splitlines()[-1]
    return int(out) / 1000


def grading_overhead(work: Path, seconds: float = 3.0, prs: int = 3) -> dict:
    from swegc.dataset import read_dataset
    from swegc.runtime.harness.grading import grade_patch
    from swegc.runtime.harness.test_spec import TestSpec

    make_slow_repo(work / "slow", prs, seconds)
    specs = work / "specs"
    specs.mkdir()
    (specs / "slow.yaml").write_text(SLOW_SPEC.format(clone=work / "slow"))
    build = work / "slow-build"
    run_compile(specs, build, "--runs", "1")
    rows = read_dataset(build)
    grading, bare = [], []
    for row in rows:
        bare.append(bare_time(row))
        start = time.monotonic()
        report = grade_patch(TestSpec.from_row(row), row["patch"])
        grading.append(time.monotonic() - start)
        if not report.resolved:
            raise SystemExit(f"{row['instance_id']}: the gold patch did not resolve: {report}")
    mean_grading, mean_bare = statistics.mean(grading), statistics.mean(bare)
    return {"instances": len(rows), "suite_s": seconds, "grading_mean_s": round(mean_grading, 2),
            "bare_mean_s": round(mean_bare, 2), "ratio": round(mean_grading / mean_bare, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "runtime.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swegc-runtime-bench-") as tmp:
        work = Path(tmp)
        results = {"gold_rollouts": gold_rollouts(work), "grading_overhead": grading_overhead(work)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
