"""Overhead of the agent loop per step, against the sandbox calls it makes, in the same run.

A scripted policy (no model time) runs N steps of one kind in a sandbox of a small repository;
the baseline is the same work done with bare Sandbox calls in the same sandbox:

- bash: ``bash true`` steps vs ``sandbox.execute("true")``;
- str_replace: editor ``str_replace`` steps (probe, read, write) vs ``execute`` + ``read_file``
  + ``write_file`` of the same file.

    python benchmarks/agent_step.py [--steps 40]

Writes benchmarks/results/agent_step.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from swegc.runtime.agent import AgentLimits, run_agent  # noqa: E402
from swegc.docker_client import docker_client  # noqa: E402
from swegc.runtime.policies.scripted import ScriptedPolicy, call  # noqa: E402
from swegc.runtime.sandbox import open_sandbox  # noqa: E402
from tests.agent_fixtures import repo_image  # noqa: E402

PATH = "/testbed/calc/ops.py"


def loop_seconds(box, script) -> float:
    limits = AgentLimits(step_limit=len(script) + 1, repeat_limit=len(script) + 1)
    start = time.perf_counter()
    result = run_agent(ScriptedPolicy([*script, call("submit")]), box, "benchmark", limits)
    assert result.exit_status == "submitted", result.error
    return time.perf_counter() - start


def bare_seconds(box, steps: int, kind: str) -> float:
    start = time.perf_counter()
    for i in range(steps):
        if kind == "bash":
            box.execute("true", timeout_s=60)
        else:
            box.execute(f"test -f {PATH} && stat -c %a {PATH}", timeout_s=60)
            text = box.read_file(PATH).decode()
            box.write_file(PATH, text.replace(f"v{i}", f"v{i + 1}").encode())
    box.diff()  # the loop reads the patch at the end too
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    image = repo_image(docker_client())
    figures = {}
    for kind in ("bash", "str_replace"):
        loop, bare = [], []
        for _ in range(args.repeats):
            with open_sandbox(image, guard=True) as box:  # as a rollout opens it
                box.write_file(PATH, b"VERSION = 'v0'\n")
                if kind == "bash":
                    script = [call("bash", command="true")] * args.steps
                else:
                    script = [call("str_replace_editor", command="str_replace", path=PATH,
                                   old_str=f"v{i}", new_str=f"v{i + 1}") for i in range(args.steps)]
                bare.append(bare_seconds(box, args.steps, kind))
                box.write_file(PATH, b"VERSION = 'v0'\n")
                loop.append(loop_seconds(box, script))
        per_loop = statistics.median(loop) / args.steps
        per_bare = statistics.median(bare) / args.steps
        figures[kind] = {"steps": args.steps, "loop_s_per_step": round(per_loop, 4),
                         "bare_s_per_step": round(per_bare, 4), "ratio": round(per_loop / per_bare, 3)}
    out = ROOT / "benchmarks" / "results" / "agent_step.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
