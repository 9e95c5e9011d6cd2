"""An environment for RL frameworks (the shape SkyRL-Gym, verl and rLLM call): reset, step, reward.

The trainer owns the model: it sends each assistant turn (an OpenAI-format message with tool
calls, or the raw generated text with Qwen-style ``<tool_call>`` blocks) to ``step``, which runs
the calls in the instance's sandbox through the same agent loop as ``swegc rollout`` (the same
tools, limits, stuck and format-error rules) and returns the tool messages. ``reward`` grades the
working tree's diff with the one harness in a fresh container: 1.0 when it resolves the
instance, else 0.0. A diff whose non-test code looks like reward hacking (``report.suspicious``,
``hack_scan``) earns 0.0 unless ``reward_suspicious=True``; ``hack_policy="refuse"`` grades it
unresolved outright (``hack_policy``).

    env = SWEEnv(row)
    messages = env.reset()                      # system + user prompt; tools in env.tools
    while True:
        turn = my_model(messages, env.tools)    # assistant message or generated text
        step = env.step(turn)
        messages += [step.action, *step.observations]
        if step.done:
            break
    print(env.reward(), env.exit_status)
    env.close()
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swegc.runtime.agent.loop import Agent, AgentLimits, _Finished, initial_messages
from swegc.runtime.agent.tools import TOOLS
from swegc.runtime.policies import Completion, PolicyError
from swegc.runtime.sandbox import (InfrastructureError, Sandbox, SandboxGone, SandboxLimits,
                                   open_sandbox)


@dataclass(frozen=True)
class StepResult:
    action: dict[str, Any]  # the assistant message as the loop recorded it
    observations: list[dict[str, Any]]  # tool messages (and format-error notes) it produced
    done: bool
    exit_status: str | None = None  # set when done: submitted, step_limit, stuck, ...
    info: dict[str, Any] = field(default_factory=dict)  # n_steps, counts; "error" when it ended so


class _Given:
    """The policy of an environment: the turn the trainer passed to ``step``."""

    name = "external"

    def __init__(self) -> None:
        self.turn: dict[str, Any] | None = None

    def settings(self) -> dict[str, Any]:
        return {"name": self.name}

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        if self.turn is None:
            raise PolicyError("step() needs the assistant's turn")
        turn, self.turn = self.turn, None
        return Completion(turn)


class SWEEnv:
    """One episode on one instance row; see the module docstring."""

    def __init__(self, row: Mapping[str, Any], limits: AgentLimits = AgentLimits(),
                 sandbox_limits: SandboxLimits | None = None, hack_policy: str = "flag",
                 reward_suspicious: bool = False):
        from swegc.runtime.harness.hack_policy import HACK_POLICIES

        if hack_policy not in HACK_POLICIES:
            raise ValueError(f"hack_policy {hack_policy!r}: expected one of {', '.join(HACK_POLICIES)}")
        self.row = dict(row)
        self.hack_policy = hack_policy
        self.reward_suspicious = reward_suspicious  # a flagged patch still earns its reward
        self.limits = limits
        self.sandbox_limits = sandbox_limits or SandboxLimits()
        self.sandbox: Sandbox | None = None
        self.agent: Agent | None = None
        self.exit_status: str | None = None
        self.report: Any = None  # the GradeReport once reward() ran
        self._policy = _Given()

    @property
    def tools(self) -> list[dict[str, Any]]:
        return copy.deepcopy(TOOLS)

    def reset(self) -> list[dict[str, Any]]:
        """A fresh sandbox of the instance image; the first observation (system + user)."""
        self.close()
        self.sandbox = open_sandbox(str(self.row["image"]), self.sandbox_limits, guard=True,
                                    labels={"org.swegc.instance": str(self.row["instance_id"])})
        self.agent = Agent(self._policy, self.sandbox, self.limits)
        self.agent.messages = initial_messages(str(self.row["problem_statement"]))
        self.exit_status, self.report = None, None
        return copy.deepcopy(self.agent.messages)

    def step(self, turn: dict[str, Any] | str) -> StepResult:
        """Run one assistant turn's tool calls; ``done`` when the episode ended."""
        if self.agent is None:
            raise RuntimeError("call reset() before step()")
        if self.exit_status is not None:
            raise RuntimeError(f"the episode is over ({self.exit_status}); call reset()")
        if isinstance(turn, str):
            from swegc.runtime.policies.transformers_policy import parse_tool_calls

            turn = parse_tool_calls(turn, id_prefix=f"call_{self.agent.n_steps + 1}")
        self._policy.turn = turn
        before = len(self.agent.messages)
        try:
            self.agent.step()
        except _Finished as done:
            self.exit_status = done.exit_status
            if done.error:
                self.agent.stats["error"] = done.error
        except InfrastructureError as exc:
            self.exit_status = "error"
            self.agent.stats["error"] = str(exc)
        recorded = self.agent.messages[before:]
        action = recorded[0] if recorded and recorded[0]["role"] == "assistant" else dict(turn)
        observations = [m for m in recorded if m is not action]
        return StepResult(action, copy.deepcopy(observations), self.exit_status is not None,
                          self.exit_status, {"n_steps": self.agent.n_steps, **self.agent.stats})

    def patch(self) -> str:
        """The working tree's diff; "" once the sandbox is gone (an episode that broke it, as
        a fork bomb or ``rm -rf /`` does, has no patch and earns 0.0)."""
        if self.sandbox is None:
            return ""
        try:
            return self.sandbox.diff()
        except SandboxGone:
            return ""

    def reward(self) -> float:
        """1.0 when the working tree's diff resolves the instance (graded in a fresh container)
        and nothing in it looks like reward hacking (unless ``reward_suspicious``)."""
        from swegc.runtime.harness.grading import grade_patch
        from swegc.runtime.harness.hack_policy import with_hack_policy
        from swegc.runtime.harness.test_spec import TestSpec

        patch = self.patch()
        if not patch.strip():
            return 0.0
        self.report = grade_patch(TestSpec.from_row(self.row, where=str(self.row["instance_id"])),
                                  patch)
        if self.report.error:
            raise InfrastructureError(f"grading could not run: {self.report.error}")
        self.report = with_hack_policy(self.report, self.hack_policy)
        if self.report.suspicious and not self.reward_suspicious:
            return 0.0
        return 1.0 if self.report.resolved else 0.0

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
        self.sandbox, self.agent = None, None

    def __enter__(self) -> SWEEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
