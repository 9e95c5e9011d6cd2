"""How long the field's own harness takes on swegc rows, against swegc's eval_script alone.

    python benchmarks/peer_tools_bench.py [--out benchmarks/results/peer_tools.json]

On the compiled example with ``peer_columns`` merged into its rows (3 instances):

1. SWE-bench 5.0.2's ``run_evaluation`` with gold predictions (``--max_workers 2``), run as a
   user runs it, from the peer-tools venv (tests/test_peer_tools.py makes it): the wall time of
   the command, and the per-instance "Test runtime" it logs (the eval_script itself).
2. Baseline, same run: each row's eval_script in a fresh sandbox with the gold patch applied
   (what SkyRL does), one after another; and the bare test command in a ready container.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from compile_bench import run_compile  # noqa: E402


def peer_python() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "swegc" / "peer-tools-venv"
    python = Path(os.environ.get("SWEGC_PEER_TOOLS_VENV", default)) / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} is missing: run .ci/setup or tests/test_peer_tools.py first")
    return python


def swebench_gold(rows_path: Path, work: Path, workers: int = 2) -> dict:
    start = time.monotonic()
    result = subprocess.run([str(peer_python()), "-m", "swebench.harness.run_evaluation",
                             "--dataset_name", str(rows_path), "--split", "train",
                             "--predictions_path", "gold", "--run_id", "bench",
                             "--max_workers", str(workers)], cwd=work, capture_output=True, text=True)
    wall = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"run_evaluation failed:\n{result.stderr[-3000:]}")
    report = json.loads(next(work.glob("*.bench.json")).read_text())
    runtimes = [float(m) for log in (work / "logs").rglob("run_instance.log")
                for m in re.findall(r"Test runtime: ([\d.]+) seconds", log.read_text())]
    return {"wall_s": round(wall, 2), "resolved": len(report["resolved_ids"]),
            "instances": report["total_instances"], "workers": workers,
            "eval_script_s": [round(r, 2) for r in sorted(runtimes)]}


def eval_scripts_alone(rows: list[dict]) -> dict:
    from swegc.runtime.sandbox import open_sandbox

    start = time.monotonic()
    scripts, bare = [], []
    for row in rows:
        with open_sandbox(row["image_name"]) as box:
            box.write_file("/tmp/gold.diff", row["patch"].encode())
            box.write_file("/tmp/eval.sh", row["eval_script"].encode())
            box.execute("git apply /tmp/gold.diff")
            result = box.execute("bash /tmp/eval.sh")
            if result.exit_code != 0:
                raise SystemExit(f"{row['instance_id']}: eval_script did not resolve the gold patch")
            scripts.append(result.duration_s)
            timed = box.execute("python3 -c 'import subprocess, sys, time; s = time.monotonic(); "
                                "subprocess.run(sys.argv[1], shell=True, capture_output=True); "
                                "print(time.monotonic() - s)' " + shlex.quote(row["test_command"]))
            bare.append(float(timed.output.strip().splitlines()[-1]))
    return {"wall_s": round(time.monotonic() - start, 2),
            "eval_script_s": [round(s, 2) for s in sorted(scripts)],
            "bare_test_s": [round(b, 2) for b in sorted(bare)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "peer_tools.json")
    args = parser.parse_args()
    from swegc.dataset import read_dataset
    from swegc.runtime.harness.peer_columns import peer_columns

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build = work / "example"
        run_compile(ROOT / "examples" / "specs", build)
        rows = [{**row, **peer_columns(row)} for row in read_dataset(build)]
        rows_path = work / "train.jsonl"
        rows_path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        figures = {"swebench_5_gold": swebench_gold(rows_path, work),
                   "eval_script_in_sandbox": eval_scripts_alone(rows)}
    sb, alone = figures["swebench_5_gold"], figures["eval_script_in_sandbox"]
    figures["ratio_swebench_wall_to_eval_scripts_wall"] = round(sb["wall_s"] / alone["wall_s"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
