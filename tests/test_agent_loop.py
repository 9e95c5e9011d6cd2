"""The agent loop against a real container: exit statuses, limits and the patch."""

from __future__ import annotations

import json

import pytest

from swegc.runtime.agent import TOOLS, AgentLimits, run_agent
from swegc.runtime.policies import Completion
from swegc.runtime.policies.scripted import ScriptedPolicy, call, calls
from swegc.runtime.sandbox import open_sandbox
from tests.agent_fixtures import repo_image

pytestmark = pytest.mark.docker

ISSUE = "add(2, 3) returns -1 instead of 5."


@pytest.fixture
def sandbox(docker_engine):
    box = open_sandbox(repo_image(docker_engine))
    yield box
    box.close()


def tool_messages(result):
    return [m for m in result.messages if m["role"] == "tool"]


def test_a_scripted_fix_is_submitted_and_the_patch_is_the_working_tree_diff(sandbox):
    policy = ScriptedPolicy([
        call("bash", command="grep -n 'a - b' calc/ops.py"),
        call("str_replace_editor", command="str_replace", path="/testbed/calc/ops.py",
             old_str="return a - b", new_str="return a + b"),
        call("bash", command="python3 -c 'from calc.ops import add; print(add(2, 3))'"),
        call("submit"),
    ])
    result = run_agent(policy, sandbox, ISSUE)

    assert result.exit_status == "submitted" and result.error is None
    assert result.n_steps == 4
    assert result.patch == sandbox.diff()
    assert "-    return a - b\n+    return a + b" in result.patch
    outputs = [m["content"] for m in tool_messages(result)]
    assert outputs[0].startswith("2:    return a - b") and "[exit code: 0]" in outputs[0]
    assert "5\n[exit code: 0]" in outputs[2]
    assert result.messages[0]["role"] == "system" and ISSUE in result.messages[1]["content"]
    assert result.tools == TOOLS
    # arguments stay JSON strings and every call is answered by a tool message with its id
    call_ids = [c["id"] for m in result.messages if m["role"] == "assistant" for c in m["tool_calls"]]
    assert [m["tool_call_id"] for m in tool_messages(result)] == call_ids
    assert all(isinstance(c["function"]["arguments"], str)
               for m in result.messages if m["role"] == "assistant" for c in m["tool_calls"])
    assert result.prompt_tokens == 0 and result.cost == 0.0  # a script reports no usage


def test_format_errors_are_answered_then_too_many_in_a_row_end_the_rollout(sandbox):
    no_call = {"role": "assistant", "content": "I will look around."}
    unknown = call("python", code="print(1)")
    bad_json = call("bash", command="ls")
    bad_json["tool_calls"][0]["function"]["arguments"] = '{"command": "ls"'
    missing = call("str_replace_editor", command="view")
    policy = ScriptedPolicy([no_call, unknown, bad_json, missing, call("submit")])

    result = run_agent(policy, sandbox, ISSUE, AgentLimits(format_error_limit=3))

    assert result.exit_status == "format_error"
    assert result.n_steps == 4
    answers = [m["content"] for m in result.messages[2:] if m["role"] in ("user", "tool")]
    assert "no tool call" in answers[0]
    assert "Unknown tool 'python'" in answers[1] and "bash, str_replace_editor, submit" in answers[1]
    assert "not valid JSON" in answers[2]
    assert "missing the required parameter(s) path" in answers[3]


def test_a_good_call_between_format_errors_resets_the_count(sandbox):
    no_call = {"role": "assistant", "content": "thinking"}
    policy = ScriptedPolicy([no_call, no_call, call("bash", command="true"), no_call, no_call,
                             call("submit")])
    result = run_agent(policy, sandbox, ISSUE, AgentLimits(format_error_limit=2))
    assert result.exit_status == "submitted"
    assert result.stats["format_errors"] == 4


def test_the_fourth_identical_action_in_a_row_ends_the_rollout_as_stuck(sandbox):
    same = call("bash", command="echo again >> /tmp/count")
    policy = ScriptedPolicy([same, same, same, same, call("submit")])

    result = run_agent(policy, sandbox, ISSUE)

    assert result.exit_status == "stuck"
    assert result.n_steps == 4
    assert sandbox.execute("wc -l < /tmp/count").output.strip() == "3"  # the 4th never ran


def test_the_same_action_with_other_actions_between_is_not_stuck(sandbox):
    same = call("bash", command="true")
    other = call("bash", command="echo other")
    policy = ScriptedPolicy([same, same, same, other, same, same, same, call("submit")])
    assert run_agent(policy, sandbox, ISSUE).exit_status == "submitted"


def test_arguments_in_another_key_order_are_the_same_action(sandbox):
    one = call("str_replace_editor", command="view", path="/testbed/README.md")
    two = calls(("str_replace_editor", {"path": "/testbed/README.md", "command": "view"}))
    policy = ScriptedPolicy([one, two, one, two, call("submit")])
    assert run_agent(policy, sandbox, ISSUE).exit_status == "stuck"


def test_the_step_limit_ends_a_rollout_that_never_submits(sandbox):
    policy = ScriptedPolicy([call("bash", command=f"echo {i}") for i in range(10)])
    result = run_agent(policy, sandbox, ISSUE, AgentLimits(step_limit=3))
    assert result.exit_status == "step_limit"
    assert result.n_steps == 3
    assert result.patch == ""


def test_a_conversation_past_the_context_limit_ends_as_context_limit(sandbox):
    policy = ScriptedPolicy([call("bash", command="seq 1 2000")] + [call("bash", command="true")] * 5)
    # the prompts and tool schemas alone are about 1,000 tokens; the seq output adds ~2,000
    result = run_agent(policy, sandbox, ISSUE, AgentLimits(context_tokens=2000))
    assert result.exit_status == "context_limit"
    assert result.n_steps == 1


def test_reported_prompt_tokens_decide_the_context_size(sandbox):
    class Counting(ScriptedPolicy):
        def complete(self, messages, tools):
            done = super().complete(messages, tools)
            return Completion(done.message, prompt_tokens=5000, completion_tokens=10, cost=0.25)

    policy = Counting([call("bash", command="true"), call("submit")])
    result = run_agent(policy, sandbox, ISSUE, AgentLimits(context_tokens=4000))
    assert result.exit_status == "context_limit"
    assert (result.prompt_tokens, result.completion_tokens, result.cost) == (5000, 10, 0.25)


def test_the_wall_clock_limit_ends_the_rollout_as_timeout(sandbox):
    policy = ScriptedPolicy([call("bash", command=f"sleep 2; echo {i}") for i in range(10)])
    result = run_agent(policy, sandbox, ISSUE, AgentLimits(wall_time_s=3))
    assert result.exit_status == "timeout"
    assert 1 <= result.n_steps <= 3


def test_a_command_that_times_out_is_reported_and_the_rollout_goes_on(sandbox):
    policy = ScriptedPolicy([call("bash", command="sleep 30"), call("bash", command="echo alive"),
                             call("submit")])
    result = run_agent(policy, sandbox, ISSUE, AgentLimits(command_timeout_s=2))
    assert result.exit_status == "submitted"
    outputs = [m["content"] for m in tool_messages(result)]
    assert "ran past its time limit of 2 s" in outputs[0]
    assert outputs[1].startswith("alive")
    assert result.stats["command_timeouts"] == 1


def test_a_sandbox_that_dies_ends_the_rollout_as_error_without_raising(sandbox):
    # stopping the container's first process stops the container under the agent
    script = [call("bash", command="kill -TERM 1; sleep 5")]
    script += [call("bash", command=f"sleep 1; echo {i}") for i in range(5)] + [call("submit")]
    result = run_agent(ScriptedPolicy(script), sandbox, ISSUE)
    assert result.exit_status == "error"
    assert result.error.split(":")[0] in ("InfrastructureError", "SandboxGone")
    assert result.n_steps < len(script)


@pytest.fixture
def guarded(docker_engine):
    box = open_sandbox(repo_image(docker_engine), guard=True)  # as `swegc rollout` opens it
    yield box
    box.close()


@pytest.mark.parametrize("command, reason", [
    (":(){ :|:& };:", "reached the process limit (pids=1024"),
    ("rm -rf --no-preserve-root /", "removed the shell's own state folder"),
])
def test_a_command_that_breaks_the_sandbox_ends_the_rollout_as_error_at_once(guarded, command,
                                                                            reason):
    script = [calls(("bash", {"command": command}), ("bash", {"command": "echo next"})),
              call("bash", command="ls"), call("submit")]
    result = run_agent(ScriptedPolicy(script), guarded, ISSUE)  # command timeout: 180 s
    assert result.exit_status == "error" and result.n_steps == 1
    assert result.error.startswith("SandboxGone: ") and reason in result.error
    assert result.wall_time_s < 30
    outputs = [m["content"] for m in tool_messages(result)]
    assert reason in outputs[0] and "the episode is over" in outputs[0]
    assert outputs[1] == "Not run: the sandbox had ended."
    assert result.patch == ""


def test_a_policy_that_cannot_answer_ends_the_rollout_as_error(sandbox):
    result = run_agent(ScriptedPolicy([call("bash", command="true")]), sandbox, ISSUE)
    assert result.exit_status == "error"
    assert "only 1 message" in result.error


def test_several_calls_in_one_message_each_get_an_answer(sandbox):
    message = calls(("bash", {"command": "echo one"}), ("nope", {}), ("submit", {}),
                    ("bash", {"command": "echo late"}))
    result = run_agent(ScriptedPolicy([message]), sandbox, ISSUE)
    assert result.exit_status == "submitted"
    outputs = [m["content"] for m in tool_messages(result)]
    assert outputs[0].startswith("one") and "Unknown tool" in outputs[1]
    assert "submitted" in outputs[2] and outputs[3].startswith("Not run")
    assert json.loads(result.messages[2]["tool_calls"][0]["function"]["arguments"]) == {"command": "echo one"}
