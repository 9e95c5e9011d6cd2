"""The funnel of the bundled example, images cold: what each stage kept and what it cost.

    python benchmarks/funnel_bench.py [--out benchmarks/results/funnel.json] [--keep-images]

Compiles ``examples/specs`` with its images under a namespace of this script's own
(``swegc-funnel-bench``: a user's and the tests' images are never touched), after removing that
namespace's images, so every env and instance image is built and its container's CPU counted.
Then compiles again (a resume that builds nothing) and checks that the funnel is the same. Beside
the funnel it records the driver's own CPU time (the ``swegc compile`` process, which the funnel
leaves out: reading candidates, git bundles, the engine's API), for scale. The script's images
are removed at the end unless ``--keep-images``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "swegc-funnel-bench"
SWEGC = [sys.executable, "-m", "swegc.cli"]


def remove_own_images() -> int:
    """Remove the images under this script's namespace (and only those)."""
    from swegc.docker_client import docker_client

    client = docker_client()
    removed = 0
    for image in client.images.list(filters={"label": "org.swegc.kind"}):
        for tag in image.tags:
            if tag.startswith(f"{NAMESPACE}-"):
                client.images.remove(tag, force=True)
                removed += 1
    return removed


def compile_once(out: Path) -> tuple[float, float, str]:
    """Wall seconds, the compile process's CPU seconds, its stderr."""
    env = {**os.environ, "SWEGC_IMAGE_NAMESPACE": NAMESPACE}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    result = subprocess.run([*SWEGC, "compile", str(ROOT / "examples" / "specs"), "--out", str(out)],
                            capture_output=True, text=True, env=env)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"compile failed:\n{result.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "funnel.json")
    parser.add_argument("--keep-images", action="store_true")
    args = parser.parse_args()
    remove_own_images()
    try:
        with tempfile.TemporaryDirectory(prefix="swegc-funnel-bench-") as tmp:
            build = Path(tmp) / "build"
            wall, driver_cpu, _ = compile_once(build)
            funnel = json.loads((build / "reports" / "funnel.json").read_text())
            resume_wall, resume_cpu, log = compile_once(build)
            if "[instance" in log or "[env" in log:
                raise SystemExit(f"the resume built or ran something:\n{log[-2000:]}")
            again = json.loads((build / "reports" / "funnel.json").read_text())
            status = subprocess.run([*SWEGC, "status", str(build)], capture_output=True,
                                    text=True, check=True).stdout
    finally:
        if not args.keep_images:
            remove_own_images()
    result = {"funnel": funnel, "compile_wall_s": round(wall, 2),
              "driver_cpu_s": round(driver_cpu, 2), "resume_wall_s": round(resume_wall, 2),
              "resume_driver_cpu_s": round(resume_cpu, 2), "resume_keeps_funnel": again == funnel,
              "load_average": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(status[status.index("funnel ("):status.index("\ntime:")])
    print(json.dumps({k: v for k, v in result.items() if k != "funnel"}, indent=2))


if __name__ == "__main__":
    main()
