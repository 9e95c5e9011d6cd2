"""Sandbox benchmark: tool-call latency of the persistent shell against one `docker exec` a call.

    python benchmarks/sandbox_bench.py [--calls 200] [--idle 5] [--out benchmarks/results/sandbox.json]

Measured in one run, on the same image (swegc-base:bookworm), alternating the two sandboxes
in blocks of ``BLOCK`` calls so that changing machine load hits both alike (call by call, the
engine's clean-up after each `docker exec` lands in the next shell call and is counted there):

1. Latency of a tool call (`true`, `echo hello`): median and p90 over ``--calls`` calls each,
   from the caller's side (command sent to result returned), for DockerShellSandbox and for
   DockerExecSandbox (the baseline).
2. Start time: open to first answer, median of 5 for each.
3. Memory of an idle sandbox: the container's cgroup memory usage from `docker stats`
   (usage, and usage less page cache), for ``--idle`` idle shell sandboxes and one baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

IMAGE = "swegc-base:bookworm"
BLOCK = 20


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values) * 1000, 2),
            "p90_ms": round(quantile(values, 0.9) * 1000, 2),
            "mean_ms": round(statistics.fmean(values) * 1000, 2), "calls": len(values)}


def latency(boxes: dict, command: str, calls: int) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {name: [] for name in boxes}
    for name, box in boxes.items():  # one warm-up call each
        box.execute(command)
    for _ in range(0, calls, BLOCK):
        for name, box in boxes.items():
            for _ in range(BLOCK):
                start = time.perf_counter()
                result = box.execute(command)
                times[name].append(time.perf_counter() - start)
                assert result.exit_code == 0, result
    return {name: summary(values) for name, values in times.items()}


def start_time(factory, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        box = factory()
        box.execute("true")
        times.append(time.perf_counter() - start)
        box.close()
    return round(statistics.median(times), 3)


def memory_of(box) -> dict[str, int]:
    stats = box.container.stats(stream=False)["memory_stats"]
    usage = stats.get("usage", 0)
    inner = stats.get("stats", {})
    cache = inner.get("total_inactive_file", inner.get("inactive_file", inner.get("cache", 0)))
    return {"usage_bytes": usage, "usage_less_cache_bytes": usage - cache}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--idle", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/sandbox.json")
    args = parser.parse_args()

    from swegc.runtime.sandbox import SandboxLimits, open_sandbox
    from swegc.runtime.sandbox.docker_exec import DockerExecSandbox

    limits = SandboxLimits()

    def shell():
        return open_sandbox(IMAGE, limits)

    def exec_box():
        box = DockerExecSandbox(IMAGE)
        box.start()
        return box

    results: dict[str, object] = {"image": IMAGE, "calls": args.calls,
                                  "load_average_at_start": round(os.getloadavg()[0], 2)}
    with shell() as persistent, exec_box() as baseline:
        boxes = {"persistent_shell": persistent, "docker_exec": baseline}
        for label, command in (("true", "true"), ("echo", "echo hello")):
            figures = latency(boxes, command, args.calls)
            figures["ratio_median"] = round(figures["persistent_shell"]["median_ms"]
                                            / figures["docker_exec"]["median_ms"], 4)
            figures["ratio_p90"] = round(figures["persistent_shell"]["p90_ms"]
                                         / figures["docker_exec"]["p90_ms"], 4)
            results[f"latency_{label}"] = figures
    results["start_s"] = {"persistent_shell": start_time(shell),
                          "docker_exec": start_time(exec_box)}

    idle = [shell() for _ in range(args.idle)]
    baseline = exec_box()
    try:
        time.sleep(3)
        shells = [memory_of(box) for box in idle]
        results["idle_memory"] = {
            "persistent_shell_median": {key: int(statistics.median(m[key] for m in shells))
                                        for key in shells[0]},
            "docker_exec": memory_of(baseline), "sandboxes": args.idle}
    finally:
        for box in [*idle, baseline]:
            box.close()

    results["load_average_at_end"] = round(os.getloadavg()[0], 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
