"""Policies by name: openai against a local server, transformers, replay, gold and the registry."""

from __future__ import annotations

import json

import pytest

from swegc.errors import InputError
from swegc.records import Instance, Trajectory
from swegc.runtime.agent import TOOLS, AgentLimits, run_agent
from swegc.runtime.policies import PolicyError, PolicyOptions, get_policy
from swegc.runtime.policies.scripted import ScriptedPolicy, call
from swegc.runtime.policies.transformers_policy import parse_tool_calls
from swegc.runtime.sandbox import open_sandbox
from swegc.testing.openai_server import OpenAIServer, scripted_backend
from tests.agent_fixtures import repo_image

ISSUE = "add(2, 3) returns -1 instead of 5."
KEY = "local-key-0123456789abcdefSECRET"  # not token-shaped: only the policy knows it
FIX = [
    call("str_replace_editor", command="str_replace", path="/testbed/calc/ops.py",
         old_str="return a - b", new_str="return a + b"),
    call("str_replace_editor", command="create", path="/testbed/calc/sub.py",
         file_text="def sub(a, b):\n    return a - b\n"),
    call("bash", command="printf '\\nUsage: add(a, b)\\n' >> README.md && git status --short"),
    call("submit"),
]


@pytest.fixture
def sandbox(docker_engine):
    box = open_sandbox(repo_image(docker_engine))
    yield box
    box.close()


def instance(patch: str = "") -> Instance:
    return Instance.from_row({"instance_id": "example__calc-1", "problem_statement": ISSUE,
                              "patch": patch, "image": "swegc-test/agent-repo"})


# -- the registry ---------------------------------------------------------------------------

def test_an_unknown_policy_name_suggests_the_close_one_and_lists_all():
    with pytest.raises(InputError) as err:
        get_policy("opneai", PolicyOptions(), instance(), 0)
    assert "unknown policy 'opneai' (did you mean 'openai'?)" in str(err.value)
    assert "openai, transformers, replay, gold, scripted" in str(err.value)


def test_policy_options_reject_a_misspelled_key():
    with pytest.raises(InputError, match="unknown policy option 'temprature' \\(did you mean 'temperature'\\?\\)"):
        PolicyOptions.from_dict({"model": "m", "temprature": 0.5})
    assert PolicyOptions.from_dict({"seed": 3}).sample_seed(2) == 5


def test_the_scripted_policy_is_built_by_name_from_options():
    policy = get_policy("scripted", PolicyOptions(script=(call("submit"),)), instance(), 0)
    assert policy.complete([], TOOLS).message["tool_calls"][0]["function"]["name"] == "submit"


# -- openai, against a local server -----------------------------------------------------------

def test_the_openai_policy_retries_5xx_and_429_then_gets_the_answer(monkeypatch):
    monkeypatch.setenv("SWEGC_TEST_KEY", KEY)
    with OpenAIServer(scripted_backend([call("submit")]), fail_first=[503, 429]) as server:
        policy = get_policy("openai", PolicyOptions(model="tiny", base_url=server.url,
                                                    api_key_env="SWEGC_TEST_KEY", seed=7), instance(), 2)
        done = policy.complete([{"role": "user", "content": "hi"}], TOOLS)
    assert [r.status for r in server.requests] == [503, 429, 200]
    assert done.message["tool_calls"][0]["function"] == {"name": "submit", "arguments": "{}"}
    assert done.prompt_tokens > 0 and done.completion_tokens == 10
    sent = server.requests[-1].body
    assert sent["seed"] == 9 and sent["tools"] == TOOLS and sent["temperature"] == 0.0
    assert server.requests[-1].authorization == f"Bearer {KEY}"  # the key is sent, and only there


def test_an_endpoint_that_keeps_failing_ends_the_rollout_as_error_without_the_key(monkeypatch, sandbox):
    monkeypatch.setenv("SWEGC_TEST_KEY", KEY)
    with OpenAIServer(scripted_backend([call("submit")]), fail_first=[500] * 10,
                      echo_authorization_in_errors=True) as server:
        options = PolicyOptions(model="tiny", base_url=server.url, api_key_env="SWEGC_TEST_KEY",
                                max_retries=1)
        policy = get_policy("openai", options, instance(), 0)
        result = run_agent(policy, sandbox, ISSUE)
    assert len(server.requests) == 2  # one try and one retry
    assert result.exit_status == "error"
    assert "answered HTTP 500" in result.error and "***" in result.error
    recorded = json.dumps([result.messages, result.error, policy.settings()])
    assert KEY not in recorded


def test_the_openai_policy_needs_a_key_only_without_a_local_endpoint(monkeypatch):
    monkeypatch.delenv("SWEGC_TEST_KEY", raising=False)
    with pytest.raises(InputError, match="set SWEGC_TEST_KEY"):
        get_policy("openai", PolicyOptions(model="m", api_key_env="SWEGC_TEST_KEY"), instance(), 0)
    local = get_policy("openai", PolicyOptions(model="m", base_url="http://u:pw@127.0.0.1:9/v1",
                                               api_key_env="SWEGC_TEST_KEY"), instance(), 0)
    assert local.settings()["base_url"] == "http://127.0.0.1:9/v1"


def test_a_rollout_through_the_openai_policy_records_usage_and_the_patch(monkeypatch, sandbox):
    with OpenAIServer(scripted_backend(FIX)) as server:
        policy = get_policy("openai", PolicyOptions(model="tiny", base_url=server.url), instance(), 0)
        result = run_agent(policy, sandbox, ISSUE)
    assert result.exit_status == "submitted"
    assert result.prompt_tokens > 0 and result.completion_tokens == 40
    assert "+    return a + b" in result.patch and "calc/sub.py" in result.patch
    # the server received the whole conversation, tool results included
    last = server.requests[-1].body["messages"][-1]
    assert last["role"] == "tool" and "name" not in last  # strict endpoints reject a tool name


# -- transformers ---------------------------------------------------------------------------

def test_qwen_style_tool_calls_are_read_from_generated_text():
    text = ('Let me look.\n<tool_call>\n{"name": "bash", "arguments": {"command": "ls"}}\n</tool_call>'
            '<tool_call>{"name": "submit", "arguments": {}}</tool_call><tool_call>{oops</tool_call>')
    message = parse_tool_calls(text)
    assert message["content"] == "Let me look.\n<tool_call>{oops</tool_call>"
    assert [c["function"] for c in message["tool_calls"]] == [
        {"name": "bash", "arguments": '{"command": "ls"}'}, {"name": "submit", "arguments": "{}"}]
    assert parse_tool_calls("garbage") == {"role": "assistant", "content": "garbage"}


# -- replay and gold ------------------------------------------------------------------------

def record(result, tmp_path, suffix=".jsonl"):
    traj = Trajectory(instance_id="example__calc-1", run_id="r0", policy={"name": "scripted"},
                      messages=result.messages, tools=result.tools, exit_status=result.exit_status,
                      patch=result.patch, n_steps=result.n_steps)
    other = Trajectory(instance_id="example__calc-2", run_id="r1", policy={}, messages=[])
    path = tmp_path / f"run{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(t.to_json()) + "\n" for t in (other, traj)))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [{**t.to_json(), **{k: json.dumps(getattr(t, k)) for k in ("policy", "messages", "tools", "test_report")}}
                for t in (other, traj)]
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_replay_reproduces_a_recorded_trajectorys_patch_exactly(docker_engine, tmp_path, suffix):
    image = repo_image(docker_engine)
    with open_sandbox(image) as box:
        recorded = run_agent(ScriptedPolicy(FIX), box, ISSUE)
    source = record(recorded, tmp_path, suffix)

    policy = get_policy("replay", PolicyOptions(replay=str(source)), instance(), 0)
    with open_sandbox(image) as box:
        replayed = run_agent(policy, box, ISSUE)
    assert replayed.exit_status == "submitted"
    assert replayed.patch == recorded.patch and recorded.patch
    assert replayed.messages == recorded.messages
    assert policy.settings()["run_id"] == "r0"
    with pytest.raises(InputError, match="sample 1 has none"):
        get_policy("replay", PolicyOptions(replay=str(source)), instance(), 1)


def test_replay_past_the_end_of_the_recording_is_an_error(docker_engine, tmp_path, sandbox):
    recorded = run_agent(ScriptedPolicy(FIX[:1]), sandbox, ISSUE, AgentLimits(step_limit=1))
    policy = get_policy("replay", PolicyOptions(replay=str(record(recorded, tmp_path))), instance(), 0)
    with pytest.raises(PolicyError, match="only 1 assistant message"):
        policy.complete([], TOOLS), policy.complete([], TOOLS)


def test_gold_applies_the_instances_patch_through_the_tools(docker_engine):
    image = repo_image(docker_engine)
    with open_sandbox(image) as box:  # the instance's patch: a change, a new file, an executable
        box.write_file("/testbed/calc/ops.py", b"def add(a, b):\n    return a + b\n")
        box.write_file("/testbed/calc/sub.py", b"def sub(a, b):\n    return a - b\n")
        box.execute("printf 'echo ran\\n' >> run.sh")
        patch = box.diff()
    assert "calc/sub.py" in patch and "run.sh" in patch

    policy = get_policy("gold", PolicyOptions(), instance(patch), 0)
    with open_sandbox(image) as box:
        result = run_agent(policy, box, ISSUE)
        leftovers = box.execute("ls /tmp").output
    assert result.exit_status == "submitted" and result.n_steps == 3
    assert result.patch == patch
    assert "gold" not in leftovers
    with pytest.raises(InputError, match="no patch"):
        get_policy("gold", PolicyOptions(), instance(""), 0)
