"""Synthetic trajectories for tests and CPU benchmarks (no runtime, no model needed).

``toy_trajectory`` builds a short tool-calling rollout whose outcome is visible in its text
(resolved rollouts end with passing tests and a real fix; unresolved ones with a failure and an
empty-ish fix), so a tiny verifier can learn to separate them in a few steps.
"""

from __future__ import annotations

import json
from typing import Any

from swegc.records import Trajectory

BASH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "bash", "description": "Run a shell command.",
                 "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                                "required": ["command"]}},
}


def _call(idx: int, command: str) -> dict[str, Any]:
    return {"id": f"call_{idx}", "type": "function",
            "function": {"name": "bash", "arguments": json.dumps({"command": command})}}


def toy_trajectory(instance_id: str, run_id: str, resolved: bool, steps: int = 2, filler: int = 0,
                   tokens: int = 0) -> Trajectory:
    """A rollout with ``steps`` tool calls (``steps + 1`` LLM calls); ``filler`` pads tool output."""
    module = instance_id.replace("-", "_")
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a software engineer. Use the bash tool."},
        {"role": "user", "content": f"Fix the bug in {module}.py: value is off by one."},
    ]
    for i in range(steps):
        command = f"cat {module}.py" if i < steps - 1 else "python -m pytest -q"
        messages.append({"role": "assistant", "content": None, "tool_calls": [_call(i, command)]})
        if i < steps - 1:
            output = "def get(value):\n    return value\n" + "# padding line\n" * filler
        else:
            output = "1 passed: All tests passed." if resolved else "1 failed: FAILED AssertionError off by one"
        messages.append({"role": "tool", "tool_call_id": f"call_{i}", "content": output})
    messages.append({"role": "assistant",
                     "content": "The fix is done and the tests pass." if resolved else "I could not fix it."})
    patch = (f"--- a/{module}.py\n+++ b/{module}.py\n@@ -1,2 +1,2 @@\n def get(value):\n"
             f"-    return value\n+    return value + 1\n" if resolved else
             f"--- a/{module}.py\n+++ b/{module}.py\n@@ -1,2 +1,2 @@\n def get(value):\n"
             f"-    return value\n+    pass\n")
    return Trajectory(instance_id=instance_id, run_id=run_id, policy={"model": "toy", "seed": 0},
                      messages=messages, tools=[BASH_TOOL], exit_status="submitted", patch=patch,
                      n_steps=steps, prompt_tokens=tokens, completion_tokens=0, resolved=resolved,
                      test_report={"test_get": "PASSED" if resolved else "FAILED"})


def corpus(trajectories: list[Trajectory]) -> list[str]:
    """Texts to train a tiny tokenizer on so that it covers the trajectories' vocabulary."""
    out = []
    for t in trajectories:
        out.append(json.dumps(t.messages))
        out.append(t.patch)
        out.extend(str(m.get("content") or "") for m in t.messages)
    return out
