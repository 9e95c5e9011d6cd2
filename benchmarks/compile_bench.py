"""Compiler benchmarks: instance layer size, validation overhead, no-op recompile.

    python benchmarks/compile_bench.py [--skip-synthetic-1000] [--out benchmarks/results/compile.json]

1. Disk: each instance image's own layer against its full size (SWE-Gym's published images
   average about 2.6 GB each, every one holding the whole environment).
2. Validation overhead: compile wall time per instance (env images warm, instance images and
   validation cold) divided by the bare time of running the same test command the same number
   of times in a ready container (timed inside the container). Measured on the example (tests
   of about 0.3 s) and on a generated repository whose test suite takes about 3 s a run.
3. No-op recompile: the example, and 1,000 generated instances. For the 1,000, the first
   compile builds the real env image but stands in for the per-instance unit (image build and
   validation) with a recorded result, so that it does not take an hour; the no-op rerun that
   is measured is the real code path: load candidates from git, plan from the store, find
   every unit in the store, write the dataset and reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import GitBuilder  # noqa: E402 - the tests' deterministic repository builder
# Importing conftest named the images the tests' namespace; this script's own images (which it
# removes to measure cold builds) go under swegc-bench-*/, apart from a test run's and a user's.
os.environ["SWEGC_IMAGE_NAMESPACE"] = "swegc-bench"
from swegc.naming import image_namespace, instance_image_name  # noqa: E402

SWEGC = [sys.executable, "-m", "swegc.cli"]


def run_compile(specs: Path, out: Path, *extra: str, noop: bool = False) -> float:
    """Seconds a compile takes; with ``noop``, refuse a rerun that built or ran anything."""
    start = time.monotonic()
    result = subprocess.run([*SWEGC, "compile", str(specs), "--out", str(out), *extra],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"compile failed:\n{result.stderr[-3000:]}")
    if noop and ("[instance" in result.stderr or "[env" in result.stderr):
        raise SystemExit(f"a no-op recompile did work:\n{result.stderr[-3000:]}")
    return time.monotonic() - start


def remove_instance_images(prefix: str) -> None:
    from swegc.docker_client import docker_client

    client = docker_client()
    for image in client.images.list(filters={"label": "org.swegc.kind=instance"}):
        for tag in image.tags:
            if tag.startswith(prefix):
                client.images.remove(tag, force=True)


def bare_test_time(row: dict, runs: int) -> float:
    """Seconds the test command itself takes, 2 x runs times, timed inside one container."""
    from swegc.runtime.sandbox.docker_exec import DockerExecSandbox as Sandbox

    with Sandbox(row["image"], env={"PYTHONDONTWRITEBYTECODE": "1"}) as box:
        box.put_file("/tmp/t.patch", row["test_patch"].encode())
        box.put_file("/tmp/f.patch", row["patch"].encode())
        loop = f"for i in $(seq {runs}); do {row['test_command']} >/dev/null 2>&1; done"
        script = (f"git apply /tmp/t.patch; s=$(date +%s%N); {loop}; git apply /tmp/f.patch; {loop}; "
                  "e=$(date +%s%N); echo $(( (e - s) / 1000000 ))")
        out = box.run(script, timeout_s=3600).output.strip().splitlines()[-1]
    return int(out) / 1000


def instance_rows(out: Path) -> list[dict]:
    from swegc.dataset import read_dataset

    return read_dataset(out)


def validated_count(out: Path) -> int:
    from swegc.build_layout import BuildLayout

    report = BuildLayout(out).instances_report
    rows = [json.loads(x) for x in report.read_text().splitlines()]
    return sum(1 for r in rows if r.get("image"))


def overhead(specs: Path, prefix: str, runs: int, work: Path) -> dict:
    run_compile(specs, work / "warm")  # env images warm (and everything else, first)
    remove_instance_images(prefix)
    cold = work / "cold"
    wall = run_compile(specs, cold, "--jobs", "1")
    rows = instance_rows(cold)
    units = validated_count(cold)
    bare = [bare_test_time(row, runs) for row in rows]
    # Compile time covers every unit that reached validation; bare time only exists for the
    # valid ones, so compare per valid instance over the valid ones' share of the wall time.
    per_unit = wall / max(units, 1)
    return {"instances_validated": units, "valid": len(rows), "compile_wall_s": round(wall, 2),
            "compile_per_instance_s": round(per_unit, 2),
            "bare_per_instance_s": round(statistics.mean(bare), 2) if bare else None,
            "ratio": round(per_unit / statistics.mean(bare), 2) if bare else None}


def layer_sizes(out: Path) -> dict:
    from swegc.docker_client import docker_client

    client = docker_client()
    layers, sizes = [], []
    for row in instance_rows(out):
        image = client.images.get(row["image"])
        layers.append(client.api.history(image.id)[0]["Size"])
        sizes.append(image.attrs["Size"])
    mean_layer, mean_size = statistics.mean(layers), statistics.mean(sizes)
    return {"instances": len(layers), "mean_own_layer_bytes": int(mean_layer),
            "max_own_layer_bytes": max(layers), "mean_full_image_bytes": int(mean_size),
            "own_layer_share_of_image": round(mean_layer / mean_size, 6),
            "swe_gym_published_mean_bytes": 2_600_000_000,
            "own_layer_vs_swe_gym_image": round(mean_layer / 2.6e9, 7)}


SLOW_SPEC = """\
repo: bench/slow
extends: swegc:pytest
source: {{clone: {clone}, git: {{}}}}
tests: {{files: ["tests/**"], runs: 2, timeout: 600}}
version: {{from: fixed, value: "1.0"}}
environments: [{{versions: "", python: "3.11", pip: ["pytest==8.3.3"], install: ["pip install -e ."]}}]
"""


def make_slow_repo(path: Path, prs: int, seconds: float) -> GitBuilder:
    """A package whose test suite sleeps ``seconds`` per run, with ``prs`` squash-merged fixes."""
    g = GitBuilder(path)
    files = {"setup.py": "from setuptools import setup\nsetup(name='slow', version='1.0', packages=['slow'])\n",
             "slow/__init__.py": "".join(f"def f{i}():\n    return 0\n" for i in range(prs)),
             # Every pytest run of this suite takes `seconds`, whichever files it is given.
             "tests/conftest.py": f"import time\n\ndef pytest_sessionstart(session):\n"
                                  f"    time.sleep({seconds})\n",
             "tests/test_base.py": "def test_base():\n    assert True\n"}
    g.commit("initial", files)
    source = files["slow/__init__.py"]
    for i in range(prs):
        source = source.replace(f"def f{i}():\n    return 0\n", f"def f{i}():\n    return 1\n")
        g.commit(f"Make f{i} return 1 (#{i + 1})", {
            "slow/__init__.py": source,
            f"tests/test_f{i}.py": f"from slow import f{i}\n\ndef test_f{i}():\n    assert f{i}() == 1\n"})
    return g


def synthetic_noop(work: Path, n: int) -> dict:
    """No-op recompile of ``n`` instances (see the module docstring for what is stood in for)."""
    from swegc.compiler import pipeline

    repo = make_slow_repo(work / "repo", n, 0.0)
    specs = work / "specs"
    specs.mkdir()
    (specs / "bench.yaml").write_text(SLOW_SPEC.format(clone=repo.path).replace("bench/slow", "bench/many"))
    out = work / "build"

    def recorded_unit(self, builder, group, item, key):
        # The stand-in unit's image must exist, or the rerun rebuilds it: tag the env image.
        name = instance_image_name(item.instance_id, "x")
        builder.client.api.tag(group.built.id, *name.split(":"))
        tagged.append(name)
        result = {"verdict": {"status": "valid", "reason": None, "detail": None,
                              "FAIL_TO_PASS": [f"{item.settings.test_directives[0]}::t"],
                              "PASS_TO_PASS": [],
                              "PASS_TO_FAIL": [], "flaky_tests": [], "runs": [],
                              "duration_s": 1.0, "attempts": 1},
                  "image": {"name": name, "id": group.built.id,
                            "key": "x", "size_bytes": 0, "layer_bytes": 0, "build_s": 0.0,
                            "reused": False, "log_path": None, "freeze": []}}
        self.store.put("unit", key, result)
        return result

    tagged: list[str] = []
    real_unit = pipeline.Compiler._unit
    pipeline.Compiler._unit = recorded_unit
    try:
        start = time.monotonic()
        pipeline.Compiler(pipeline.CompileOptions(out=out, jobs=2), echo=lambda _: None).run([specs])
        first = time.monotonic() - start
    finally:
        pipeline.Compiler._unit = real_unit
    try:
        noop = run_compile(specs, out, noop=True)
    finally:
        from swegc.docker_client import docker_client

        for name in tagged:
            docker_client().images.remove(name)
    return {"instances": n, "first_compile_s_units_recorded": round(first, 2),
            "noop_recompile_s": round(noop, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compile.json")
    parser.add_argument("--skip-synthetic-1000", action="store_true")
    args = parser.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="swegc-bench-") as tmp:
        work = Path(tmp)
        example = ROOT / "examples" / "specs"
        (work / "ex").mkdir()
        results["example_overhead"] = overhead(example, f"{image_namespace()}-inst/example__calc", 3, work / "ex")
        results["example_layers"] = layer_sizes(work / "ex" / "cold")
        start = time.monotonic()
        run_compile(example, work / "ex" / "cold", noop=True)
        results["example_noop_recompile_s"] = round(time.monotonic() - start, 2)

        slow = work / "slow"
        repo = make_slow_repo(slow / "repo", 4, 3.0)
        (slow / "specs").mkdir(parents=True)
        (slow / "specs" / "slow.yaml").write_text(SLOW_SPEC.format(clone=repo.path))
        results["slow_suite_overhead"] = overhead(slow / "specs", f"{image_namespace()}-inst/bench__slow", 2, slow)
        if not args.skip_synthetic_1000:
            (work / "many").mkdir()
            results["synthetic_noop"] = synthetic_noop(work / "many", 1000)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
