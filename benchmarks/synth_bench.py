"""Synthesis figures: candidates and valid tasks per strategy, yield, CPU, image bytes, grading.

    python benchmarks/synth_bench.py BUILD [--out DIR] [--per-env N] [--strategies ...]
        [--map suite|instance] [--swebench PYTHON] [--result benchmarks/results/synth.json]

Runs ``swegc synthesize BUILD`` into a fresh folder (its images go under ``swegc-bench``), then
reads its reports and funnel and grades its rows:

- candidates examined and valid tasks per strategy (origin), the yield of each (valid /
  candidates screened), reasons;
- CPU-seconds per valid task: every container's own CPU time (call map, screening, the task
  image's sealing, validation) over the valid tasks, and the wall time of the run;
- image bytes per task (the task layer on its instance image) and tasks per environment;
- how many tasks resolve: ``swegc evaluate gold`` (all must) and a no-op patch (a new file,
  none may), and, given ``--swebench`` (a Python with swebench 5.x installed, such as the test
  suite's peer-tools venv), the same two under SWE-bench's own harness.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("SWEGC_IMAGE_NAMESPACE", "swegc-bench")
SWEGC = [sys.executable, "-m", "swegc.cli"]
NOOP = ("diff --git a/NOTES.md b/NOTES.md\nnew file mode 100644\nindex 0000000..1b2c3d4\n"
        "--- /dev/null\n+++ b/NOTES.md\n@@ -0,0 +1 @@\n+Looked at it; nothing to change.\n")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return result


def synthesize(build: Path, out: Path, extra: list[str]) -> float:
    start = time.monotonic()
    run([*SWEGC, "synthesize", str(build), "--out", str(out), *extra])
    return time.monotonic() - start


def figures(out: Path) -> dict:
    from swegc.dataset import load_instances

    reports = [json.loads(line) for line in (out / "reports" / "instances.jsonl").open()]
    funnel = json.loads((out / "reports" / "funnel.json").read_text())
    rows = load_instances(out)
    per_strategy: dict[str, Counter] = defaultdict(Counter)
    for report in reports:
        strategy = report["origin"].split(":")[0]
        per_strategy[strategy]["candidates"] += 1
        per_strategy[strategy][report["status"] if report["status"] != "rejected"
                               else f"rejected:{report['reason']}"] += 1
    strategies = {}
    for name, counts in sorted(per_strategy.items()):
        screened = counts["candidates"] - counts["skipped"]
        strategies[name] = {**dict(counts), "screened": screened,
                            "yield": round(counts["valid"] / screened, 3) if screened else None}
    cpu = sum(stage["cpu_s"] for stage in funnel["funnel"])
    valid = len(rows)
    layers = [inst.synthesis["layer_bytes"] for inst in rows.values()]
    per_env = Counter(inst.env_commit for inst in rows.values())
    return {"valid": valid, "strategies": strategies, "funnel": funnel["funnel"],
            "cpu_s": round(cpu, 1), "cpu_s_per_valid": round(cpu / valid, 2) if valid else None,
            "layer_bytes_mean": int(sum(layers) / len(layers)) if layers else None,
            "layer_bytes_max": max(layers) if layers else None,
            "tasks_per_env": dict(per_env)}


def grade(out: Path, work: Path) -> dict:
    from swegc.dataset import load_rows

    rows = load_rows(out)
    result = {}
    for name, predictions in (("gold", "gold"), ("noop", str(work / "noop.jsonl"))):
        if name == "noop":
            Path(predictions).write_text("".join(json.dumps(
                {"instance_id": iid, "model_name_or_path": "noop", "model_patch": NOOP}) + "\n"
                for iid in rows))
        run([*SWEGC, "evaluate", predictions, "--dataset", str(out), "--out",
             str(work / f"eval-{name}"), "-j", "2"])
        report = json.loads((work / f"eval-{name}" / "report.json").read_text())
        result[f"swegc_{name}_resolved"] = report["resolved_instances"]
    return result


def swebench(python: str, out: Path, work: Path) -> dict:
    from swegc.dataset import read_dataset

    rows = read_dataset(out)
    folder = work / "swebench"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "noop.jsonl").write_text("".join(json.dumps(
        {"instance_id": row["instance_id"], "model_name_or_path": "noop", "model_patch": NOOP})
        + "\n" for row in rows))
    result = {}
    for name, predictions in (("gold", "gold"), ("noop", str(folder / "noop.jsonl"))):
        run([python, "-m", "swebench.harness.run_evaluation", "--dataset_name",
             str(folder / "train.jsonl"), "--split", "train", "--predictions_path", predictions,
             "--run_id", name, "--max_workers", "2", "--timeout", "600", "--report_dir",
             str(folder)], cwd=folder, timeout=3600)
        [report] = folder.glob(f"*.{name}.json")
        data = json.loads(report.read_text())
        result[f"swebench_{name}_resolved"] = len(data["resolved_ids"])
        result[f"swebench_{name}_completed"] = data["completed_instances"]
    return result


def remove_images(out: Path) -> None:
    from swegc.dataset import load_instances
    from swegc.docker_client import docker_client

    from swegc.store import BuildStore

    client = docker_client()
    names = [inst.image_tag for inst in load_instances(out).values()]
    names += [base["image"] for _, base in BuildStore(out / "store.sqlite").items("synth_base")
              if base.get("image")]  # after the tasks on them
    for name in names:
        try:
            client.images.remove(name, force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--per-env", default="10")
    parser.add_argument("--strategies", default="mutation")
    parser.add_argument("--map", default="suite")
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--swebench", default=None, help="Python with swebench 5.x installed")
    parser.add_argument("--keep-images", action="store_true")
    parser.add_argument("--result", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swegc-synth-bench-") as tmp:
        work = Path(tmp)
        out = args.out or work / "synth"
        wall = synthesize(args.build, out, ["--per-env", args.per_env, "--strategies",
                                            args.strategies, "--map", args.map, "-j", args.jobs])
        result = {"build": str(args.build), "per_env": int(args.per_env),
                  "strategies": args.strategies, "map": args.map, "wall_s": round(wall, 1),
                  "load_average_1m": os.getloadavg()[0], **figures(out), **grade(out, work)}
        if args.swebench:
            result.update(swebench(args.swebench, out, work))
        if not args.keep_images:
            remove_images(out)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.result:
        args.result.write_text(text + "\n")


if __name__ == "__main__":
    main()
