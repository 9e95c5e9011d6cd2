"""The RL environment (reset, step, reward) on the compiled example, and a served model's rollout."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from swegc.dataset import load_rows, read_dataset
from swegc.runtime.agent import AgentLimits
from swegc.runtime.gym_env import SWEEnv
from tests.agent_fixtures import repo_image

pytestmark = pytest.mark.docker


def call(name: str, step: int, **arguments: object) -> dict:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{step}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}]}


def without_index(patch: str) -> list[str]:
    """A patch's lines without its `index` lines (abbreviated or full blob ids)."""
    return [line for line in patch.splitlines() if not line.startswith("index ")]


@pytest.fixture(scope="module")
def row(example_build):
    return load_rows(example_build)["example__calc-2"]


def test_an_episode_that_applies_the_fix_through_the_tools_earns_reward_one(row):
    with SWEEnv(row) as env:
        messages = env.reset()
        assert [m["role"] for m in messages] == ["system", "user"]
        assert row["problem_statement"].strip() in messages[1]["content"]
        assert {t["function"]["name"] for t in env.tools} == {"bash", "str_replace_editor", "submit"}
        first = env.step(call("str_replace_editor", 1, command="create", path="/tmp/fix.patch",
                              file_text=row["patch"]))
        assert not first.done and first.observations[0]["role"] == "tool"
        applied = env.step(call("bash", 2, command="git apply /tmp/fix.patch && git status --short"))
        assert "[exit code: 0]" in applied.observations[0]["content"]
        done = env.step(call("submit", 3))
        assert done.done and done.exit_status == "submitted"
        assert env.reward() == 1.0
        assert env.report.resolved and without_index(env.patch()) == without_index(row["patch"])
        with pytest.raises(RuntimeError, match="episode is over"):
            env.step(call("bash", 4, command="true"))


def test_generated_text_with_tool_call_blocks_is_a_turn_and_a_no_op_earns_nothing(row):
    with SWEEnv(row, AgentLimits(step_limit=2)) as env:
        env.reset()
        text = 'Let me look.\n<tool_call>\n{"name": "bash", "arguments": {"command": "ls"}}\n</tool_call>'
        step = env.step(text)
        assert step.action["tool_calls"][0]["function"]["name"] == "bash"
        assert "calc" in step.observations[0]["content"] and not step.done
        step = env.step("no tool call here")
        assert step.observations[0]["role"] == "user" and not step.done  # the format error is told
        assert env.step("still none").exit_status == "step_limit"
        assert env.reward() == 0.0


@pytest.mark.parametrize("command, reason", [
    (":(){ :|:& };:", "reached the process limit (pids=1024"),
    ("rm -rf --no-preserve-root /", "removed the shell's own state folder"),
])
def test_a_step_that_breaks_the_sandbox_ends_the_episode_as_error_at_once(docker_engine, command,
                                                                         reason):
    row = {"image": repo_image(docker_engine), "instance_id": "repo__calc-1",
           "problem_statement": "add(2, 3) returns -1 instead of 5."}
    with SWEEnv(row) as env:  # the default limits: 1,024 processes, a 180 s command timeout
        env.reset()
        start = time.monotonic()
        step = env.step(call("bash", 1, command=command))
        assert time.monotonic() - start < 30
        assert step.done and step.exit_status == "error" == env.exit_status
        assert reason in step.info["error"] and reason in step.observations[0]["content"]
        with pytest.raises(RuntimeError, match="episode is over"):
            env.step(call("bash", 2, command="ls"))
        assert env.patch() == "" and env.reward() == 0.0


@pytest.mark.train
def test_a_rollout_samples_from_a_served_model_through_the_command_line(example_build, tmp_path):
    pytest.importorskip("torch")
    from swegc.runtime.agent.loop import SYSTEM_PROMPT
    from swegc.runtime.agent.tools import TOOLS
    from swegc.testing.openai_server import OpenAIServer, tiny_model_backend
    from swegc.train.tiny import save_tiny

    model = str(save_tiny(tmp_path / "tiny", [json.dumps(TOOLS), SYSTEM_PROMPT] * 5))
    out = tmp_path / "runs"
    with OpenAIServer(tiny_model_backend(model)) as server:
        result = subprocess.run(
            [sys.executable, "-m", "swegc.cli", "rollout", str(example_build), "--out", str(out),
             "--policy", "openai", "--model", "tiny", "--base-url", server.url,
             "--temperature", "1.0", "--max-tokens", "16", "--step-limit", "3",
             "--instance", "example__calc-2", "--samples", "2", "--seed", "7"],
            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = read_dataset(out)
    assert len(rows) == 2 and {r["sample"] for r in rows} == {0, 1}
    for r in rows:
        assert r["exit_status"] in ("step_limit", "format_error") and r["resolved"] is False
        assert r["policy"]["model"] == "tiny" and r["policy"]["seed"] == 7 + r["sample"]
        assert r["n_steps"] >= 1 and r["prompt_tokens"] > 0
    assert {req.body["seed"] for req in server.requests} == {7, 8}
