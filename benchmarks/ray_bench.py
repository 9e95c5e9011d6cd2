"""Ray executor benchmarks: throughput against workers, and scheduling overhead per unit.

    python benchmarks/ray_bench.py [--nodes 8] [--out benchmarks/results/ray.json]

Ray clusters of simulated nodes on this machine (``ray.cluster_utils.Cluster``: a head
without units and worker nodes with one CPU and one docker slot each), measured in one run
against the local pool:

1. Sleep-bound units (1 s each; a unit that waits on a container), 4 per node, all submitted
   at once: throughput on clusters of 1, 2, 4 ... ``--nodes`` nodes, as a ratio to linear
   (nodes / 1 s).
2. The example's real units (instance image found, validation run: 5 units), compiled into a
   fresh build folder on a 2-node cluster with 1 and 2 units at once (``--jobs``; 2 is the
   machine's cores), as a ratio to linear from 1; the local pool's time at the same jobs
   alongside.
3. Scheduling overhead per unit: 200 units that do nothing, through the local pool and
   through Ray, wall time divided by units.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from swegc.executors import LocalPool, RetryPolicy  # noqa: E402
from swegc.testing.units import Sleep, sleep_unit  # noqa: E402
from tests.ray_fixtures import ray_cluster  # noqa: E402

SPECS = ROOT / "examples" / "specs"


def timed(pool, units) -> float:
    start = time.monotonic()
    outcomes = list(pool.map_unordered(sleep_unit, units))
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes if o.error]
    return time.monotonic() - start


def sleep_scaling(nodes: int, seconds: float = 1.0, per_worker: int = 4) -> list[dict]:
    """A cluster of 1, 2, 4 ... nodes with one slot each; every unit submitted at once."""
    from swegc.ray_executor import RayExecutor

    rows = []
    workers = 1
    while workers <= nodes:
        with ray_cluster(workers=workers, slots=1) as cluster:
            pool = RayExecutor(address=cluster.address, echo=lambda _: None)
            timed(pool, [Sleep(i, 0.0) for i in range(2 * workers)])  # workers started, warm
            units = per_worker * workers
            elapsed = timed(pool, [Sleep(i, seconds) for i in range(units)])
            pool.close()
        throughput = units / elapsed
        rows.append({"workers": workers, "units": units, "seconds": round(elapsed, 3),
                     "units_per_s": round(throughput, 3),
                     "ratio_to_linear": round(throughput / (workers / seconds), 3)})
        print(f"sleep units, {workers} node(s): {throughput:.2f}/s, "
              f"{rows[-1]['ratio_to_linear']:.2f}x linear", flush=True)
        workers *= 2
    return rows


def compile_seconds(executor: str, jobs: int, address: str | None) -> tuple[float, int]:
    """Seconds the example's instance units take in a fresh build folder (images warm)."""
    from swegc.compiler.pipeline import CompileOptions, Compiler

    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        options = CompileOptions(out=Path(tmp), jobs=jobs, executor=executor, ray_address=address)
        start: dict[str, float] = {}

        def echo(line: str) -> None:
            lines.append(line)
            if line.startswith("ray: ") or "to build and validate" in line:  # timing starts
                start["at"] = time.monotonic()

        compiler = Compiler(options, echo)
        begun = time.monotonic()
        compiler.run([SPECS])
        elapsed = time.monotonic() - start.get("at", begun)
    units = sum(1 for line in lines if line.startswith("[instance "))
    return elapsed, units


def real_scaling(cluster) -> list[dict]:
    rows = []
    compile_seconds("local", 1, None)  # images and caches warm
    for workers in (1, 2):
        ray_s, units = compile_seconds("ray", workers, cluster.address)
        local_s, _ = compile_seconds("local", workers, None)
        rows.append({"workers": workers, "units": units, "ray_seconds": round(ray_s, 3),
                     "local_seconds": round(local_s, 3),
                     "ray_units_per_s": round(units / ray_s, 4)})
        print(f"example units, {workers} worker(s): ray {ray_s:.1f}s, local {local_s:.1f}s",
              flush=True)
    base = rows[0]["ray_units_per_s"]
    for row in rows:
        row["ratio_to_linear"] = round(row["ray_units_per_s"] / (base * row["workers"]), 3)
    return rows


def overhead(cluster, units: int = 200) -> dict:
    from swegc.ray_executor import RayExecutor

    noop = [Sleep(i, 0.0) for i in range(units)]
    local = timed(LocalPool(4, RetryPolicy()), noop)
    pool = RayExecutor(address=cluster.address, echo=lambda _: None)
    timed(pool, noop[:20])  # workers warm
    ray_s = timed(pool, noop)
    pool.close()
    result = {"units": units, "local_ms_per_unit": round(1000 * local / units, 3),
              "ray_ms_per_unit": round(1000 * ray_s / units, 3)}
    print(f"overhead per unit: local {result['local_ms_per_unit']} ms, "
          f"ray {result['ray_ms_per_unit']} ms", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray.json")
    args = parser.parse_args()
    results: dict = {"cores": os.cpu_count(), "nodes": args.nodes}
    results["sleep_units"] = sleep_scaling(args.nodes)
    with ray_cluster(workers=2, slots=1) as cluster:
        results["overhead"] = overhead(cluster)
        if not args.skip_real:
            results["example_units"] = real_scaling(cluster)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
