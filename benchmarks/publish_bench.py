"""Publishing the example build: what a first publish sends, and what a second one does not.

Compiles the example (or takes ``--build``), starts Debian's docker-registry on 127.0.0.1 and the
Hub stand-in, and publishes twice through ``swegc.hub.publish`` with the real clients. The
baseline is the first publish into an empty registry and an empty Hub repository, measured in
the same run; the figures are the second publish's time and bytes against it.

    python benchmarks/publish_bench.py [--build DIR]   # writes benchmarks/results/publish.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, default=None, help="a compiled build (default: compile the example)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="swegc-publish-bench-"))
    build = args.build
    if build is None:
        build = work / "build"
        subprocess.run([sys.executable, "-m", "swegc.cli", "compile", str(ROOT / "examples" / "specs"),
                        "--out", str(build)], check=True, capture_output=True)

    from swegc.testing.hub_standin import HubStandin
    from tests.registry_fixtures import running_registry

    token = "hf_" + "b3nch" * 7
    with running_registry(work / "registry") as host, HubStandin(token=token) as hub:
        # huggingface_hub reads these when first imported, which happens below.
        os.environ.update(hub.client_env(work / "home"))
        from swegc.hub.publish import PublishOptions, publish

        runs = []
        for attempt in (1, 2):
            before = sum(r.bytes_in for r in hub.requests)
            start = time.perf_counter()
            result = publish(build, PublishOptions(repo_id="acme/calc", registry=f"{host}/acme"),
                             echo=lambda _: None)
            seconds = time.perf_counter() - start
            assert result.pushes is not None
            runs.append({"publish": attempt, "seconds": round(seconds, 2),
                         "push_seconds": round(result.seconds.get("push", 0.0), 2),
                         "hub_seconds": round(result.seconds.get("commit", 0.0), 2),
                         "images": len(result.pushes.pushed), "images_skipped": result.pushes.skipped,
                         "layer_bytes_sent": result.pushes.bytes_sent,
                         "image_bytes": sum(p.size_bytes for p in result.pushes.pushed),
                         "hub_bytes_received": sum(r.bytes_in for r in hub.requests) - before,
                         "tag": result.tag})
    first, second = runs
    summary = {"runs": runs, "second_over_first_seconds": round(second["seconds"] / first["seconds"], 4),
               "layer_bytes_not_resent": first["layer_bytes_sent"] - second["layer_bytes_sent"]}
    out = ROOT / "benchmarks" / "results" / "publish.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
