"""A real (tiny, random) model through the runtime: served over HTTP and run in-process."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from swegc.records import Instance  # noqa: E402
from swegc.runtime.agent import TOOLS, AgentLimits, run_agent  # noqa: E402
from swegc.runtime.agent.loop import SYSTEM_PROMPT, USER_PROMPT  # noqa: E402
from swegc.runtime.policies import PolicyOptions, get_policy  # noqa: E402
from swegc.runtime.sandbox import open_sandbox  # noqa: E402
from swegc.testing.openai_server import OpenAIServer, tiny_model_backend  # noqa: E402
from tests.agent_fixtures import repo_image  # noqa: E402

pytestmark = pytest.mark.train

ISSUE = "add(2, 3) returns -1 instead of 5."


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from swegc.train.tiny import save_tiny

    texts = [json.dumps(TOOLS), SYSTEM_PROMPT, USER_PROMPT.format(problem_statement=ISSUE)] * 5
    return str(save_tiny(tmp_path_factory.mktemp("tiny"), texts))


def test_the_served_tiny_model_runs_through_the_openai_policy_to_a_limit(tiny_model, docker_engine):
    with OpenAIServer(tiny_model_backend(tiny_model)) as server, \
            open_sandbox(repo_image(docker_engine)) as box:
        options = PolicyOptions(model="tiny", base_url=server.url, temperature=1.0, max_tokens=24, seed=0)
        policy = get_policy("openai", options, Instance.from_row({"instance_id": "x"}), 0)
        result = run_agent(policy, box, ISSUE, AgentLimits(step_limit=4, format_error_limit=2))

    assert result.exit_status in ("step_limit", "format_error")  # random weights emit garbage
    assert result.error is None
    assert result.n_steps == len(server.requests) and result.n_steps >= 3
    assert result.prompt_tokens > 1000 and 0 < result.completion_tokens <= 24 * result.n_steps
    assert server.requests[0].body["seed"] == 0 and server.requests[0].body["max_tokens"] == 24


def test_the_transformers_policy_generates_in_process_and_reports_tokens(tiny_model):
    options = PolicyOptions(model_path=tiny_model, max_tokens=16, temperature=1.0, seed=3)
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": USER_PROMPT.format(problem_statement=ISSUE)},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c0", "type": "function",
                     "function": {"name": "bash", "arguments": '{"command": "ls"}'}}]},
                {"role": "tool", "tool_call_id": "c0", "content": "calc\nREADME.md\n"}]
    first = get_policy("transformers", options, Instance.from_row({"instance_id": "x"}), 0).complete(messages, TOOLS)
    again = get_policy("transformers", options, Instance.from_row({"instance_id": "x"}), 0).complete(messages, TOOLS)
    assert first.message["role"] == "assistant"
    assert first.prompt_tokens > 1000 and 0 < first.completion_tokens <= 16
    assert first == again  # same seed and sample: the same answer
    policy = get_policy("transformers", options, Instance.from_row({"instance_id": "x"}), 1)
    assert policy.settings() == {"name": "transformers", "model": tiny_model, "temperature": 1.0,
                                 "top_p": 1.0, "max_tokens": 16, "seed": 4}
