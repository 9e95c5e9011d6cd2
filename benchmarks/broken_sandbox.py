"""How long the RL environment's ``step`` takes to end an episode whose command breaks the sandbox.

Two episodes in a sandbox of a small repository, each through ``SWEEnv.step`` as a trainer calls
it (default limits: 1,024 processes, a 180 s command timeout):

- fork bomb: ``:(){ :|:& };:``, then ``ls``;
- rm: ``rm -rf --no-preserve-root /``, then ``ls``.

For each, the seconds the breaking step took, whether it said ``done`` and with what status, and
(when it did not) what the next step answered.

    python benchmarks/broken_sandbox.py

Writes benchmarks/results/broken_sandbox.json and prints it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from swegc.docker_client import docker_client  # noqa: E402
from swegc.runtime.gym_env import SWEEnv  # noqa: E402
from swegc.runtime.policies.scripted import call  # noqa: E402
from tests.agent_fixtures import repo_image  # noqa: E402

COMMANDS = {"fork_bomb": ":(){ :|:& };:", "rm": "rm -rf --no-preserve-root /"}


def episode(row: dict[str, str], command: str) -> dict[str, object]:
    with SWEEnv(row) as env:
        env.reset()
        start = time.perf_counter()
        step = env.step(call("bash", command=command))
        figures: dict[str, object] = {"step_s": round(time.perf_counter() - start, 2),
                                      "done": step.done, "exit_status": step.exit_status,
                                      "error": step.info.get("error")}
        if not step.done:
            after = env.step(call("bash", command="ls"))
            figures["next_step"] = after.observations[0]["content"][-200:]
        return figures


def main() -> None:
    row = {"image": repo_image(docker_client()), "instance_id": "bench__broken-1",
           "problem_statement": "benchmark"}
    figures = {name: episode(row, command) for name, command in COMMANDS.items()}
    out = ROOT / "benchmarks" / "results" / "broken_sandbox.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
