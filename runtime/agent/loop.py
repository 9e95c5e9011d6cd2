"""The agent loop: ask the policy, run its tool calls in the sandbox, repeat.

query -> execute -> observe, as in mini-swe-agent; the message list is the trajectory. The
loop ends with one exit status (an ``ExitStatus``; ``swegc.reasons.EXIT_STATUSES`` holds the
one-line text cards show):

- ``submitted``: the model called ``submit``;
- ``step_limit``: ``step_limit`` assistant messages were made without a submit;
- ``context_limit``: the conversation grew past ``context_tokens`` (the policy's reported
  prompt tokens, else an estimate of 4 characters a token);
- ``stuck``: the same action (same tools with the same arguments) came more than
  ``repeat_limit`` times in a row (SWE-Gym's loop measure: the 4th identical action ends it);
- ``format_error``: more than ``format_error_limit`` messages in a row had no runnable tool
  call (no call, unknown tool, arguments that are not a JSON object, missing parameters); each
  one before that is answered with what was wrong;
- ``timeout``: the rollout's wall clock ran out (a single command that times out does not
  end the rollout: the model is told and goes on);
- ``error``: the sandbox died, the engine failed, or the policy could not answer; ``error``
  says what. Nothing of that escapes as an exception. A tool call whose sandbox ended under it
  (``SandboxGone``: out of memory, the disk limit, or in a guarded sandbox a fork bomb at the
  pids limit or ``rm -rf /``) is answered with the reason, so the conversation says why too.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from swegc.reasons import ExitStatus
from swegc.redact import redact
from swegc.runtime.agent.editor import Editor
from swegc.runtime.agent.tools import TOOLS, ToolCallError, action_key, parse_call
from swegc.runtime.policies import Completion, Policy, PolicyError
from swegc.runtime.sandbox import InfrastructureError, Sandbox, SandboxGone

MAX_OBSERVATION_CHARS = 16_000  # longer tool output keeps its head and tail

SYSTEM_PROMPT = """\
You are a software engineer fixing an issue in a repository. The repository is checked out at \
/testbed, which is also the working directory of your commands. You act only through the \
tools: `bash` runs a shell command, `str_replace_editor` views, creates and edits files, and \
`submit` ends the episode with your changes. Call one or more tools in every message."""

USER_PROMPT = """\
<issue>
{problem_statement}
</issue>

The repository is at /testbed. Change its non-test files so that the issue above is resolved. \
A good way to work: find the relevant code, reproduce the issue with a small script, fix it, \
run the script again to confirm, and think about edge cases. When you are done, call the \
`submit` tool; your changes (the diff of /testbed against HEAD) are your answer."""

NO_TOOL_CALL = ("Your message had no tool call. Every message must call one of the tools: "
                "bash, str_replace_editor, or submit (to end the episode).")


def initial_messages(problem_statement: str) -> list[dict[str, Any]]:
    """The conversation before the first step: the system prompt and the issue."""
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_PROMPT.format(problem_statement=problem_statement)}]


@dataclass(frozen=True)
class AgentLimits:
    """When a rollout stops; every field has a default a rollout can live with."""

    step_limit: int = 50
    """Most assistant messages (steps) in one rollout."""
    context_tokens: int = 32768
    """Prompt size in tokens the conversation may reach."""
    wall_time_s: float = 1800
    """Seconds one rollout may take."""
    command_timeout_s: float = 180
    """Seconds one tool command may take."""
    repeat_limit: int = 3
    """Identical actions in a row allowed; one more ends the rollout as `stuck`."""
    format_error_limit: int = 3
    """Format errors in a row answered; one more ends the rollout as `format_error`."""


@dataclass(frozen=True)
class AgentResult:
    """One rollout: how it ended, the conversation (the trajectory), the patch and its costs.

    The rollout keeps it in its store the moment the agent is done (``to_json``) and reads it
    back (``from_json``) to grade the patch again after an infrastructure failure, without
    running the agent again.
    """

    exit_status: ExitStatus
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    patch: str
    n_steps: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    wall_time_s: float
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)  # counts of format errors, timeouts
    policy: dict[str, Any] = field(default_factory=dict)  # the policy's settings()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentResult:
        """A stored result; those stored before ``stats`` was kept have none."""
        return cls(**{**data, "exit_status": ExitStatus(data["exit_status"])})


class _Finished(Exception):
    def __init__(self, exit_status: ExitStatus, error: str | None = None):
        super().__init__(exit_status)
        self.exit_status, self.error = exit_status, error


def _estimate_tokens(items: list[Any]) -> int:
    return sum(len(json.dumps(item, ensure_ascii=False)) for item in items) // 4


def _clip(text: str) -> str:
    if len(text) <= MAX_OBSERVATION_CHARS:
        return text
    half = MAX_OBSERVATION_CHARS // 2
    return (f"{text[:half]}\n<response clipped: {len(text) - 2 * half} characters left out; "
            f"narrow the command, e.g. with grep, head or a view_range>\n{text[-half:]}")


def _assistant_message(raw: dict[str, Any], step: int) -> dict[str, Any]:
    """The policy's message in OpenAI format, every call with an id and JSON-string arguments."""
    msg: dict[str, Any] = {"role": "assistant", "content": raw.get("content")}
    calls = []
    for i, call in enumerate(raw.get("tool_calls") or []):
        function = dict(call.get("function") or {})
        arguments = function.get("arguments")
        if not isinstance(arguments, str) and arguments is not None:
            arguments = json.dumps(arguments, ensure_ascii=False)
        calls.append({"id": call.get("id") or f"call_{step}_{i}", "type": "function",
                      "function": {"name": str(function.get("name") or ""), "arguments": arguments or ""}})
    if calls:
        msg["tool_calls"] = calls
    return msg


class Agent:
    """One rollout's state: the conversation, the counters the limits read, the editor's history."""

    def __init__(self, policy: Policy, sandbox: Sandbox, limits: AgentLimits):
        self.policy, self.sandbox, self.limits = policy, sandbox, limits
        self.editor = Editor(sandbox)
        self.messages: list[dict[str, Any]] = []
        self.n_steps = self.prompt_tokens = self.completion_tokens = 0
        self.cost = 0.0
        self.start = time.monotonic()
        self.last_action, self.repeats, self.format_errors = "", 0, 0
        self.stats = {"format_errors": 0, "command_timeouts": 0}
        self._context = (0, 0)  # (reported prompt + completion tokens, messages it covers)

    def run(self, problem_statement: str) -> AgentResult:
        self.messages = initial_messages(problem_statement)
        try:
            while True:
                self.step()
        except _Finished as done:
            status, error = done.exit_status, done.error
        except (PolicyError, InfrastructureError) as exc:
            status, error = ExitStatus.ERROR, redact(f"{type(exc).__name__}: {exc}")
        patch = ""
        try:
            patch = self.sandbox.diff()
        except InfrastructureError as exc:
            status, error = ExitStatus.ERROR, error or redact(f"cannot read the patch: {exc}")
        return AgentResult(status, self.messages, copy.deepcopy(TOOLS), patch, self.n_steps,
                           self.prompt_tokens, self.completion_tokens, self.cost,
                           time.monotonic() - self.start, error, dict(self.stats),
                           self.policy.settings())

    def step(self) -> None:
        self.check_limits()
        message = self.query()
        self.execute(message)

    def check_limits(self) -> None:
        if self.remaining_s() <= 0:
            raise _Finished(ExitStatus.TIMEOUT)
        if self.n_steps >= self.limits.step_limit:
            raise _Finished(ExitStatus.STEP_LIMIT)
        if self.context_tokens() > self.limits.context_tokens:
            raise _Finished(ExitStatus.CONTEXT_LIMIT)

    def remaining_s(self) -> float:
        return self.limits.wall_time_s - (time.monotonic() - self.start)

    def context_tokens(self) -> int:
        """The size of the next prompt: the last reported size plus an estimate of what came since."""
        reported, covered = self._context
        if not reported:
            return _estimate_tokens([*self.messages, *TOOLS])
        return reported + _estimate_tokens(self.messages[covered:])

    def query(self) -> dict[str, Any]:
        completion: Completion = self.policy.complete(copy.deepcopy(self.messages), copy.deepcopy(TOOLS))
        self.n_steps += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.cost += completion.cost
        message = _assistant_message(completion.message, self.n_steps)
        self.messages.append(message)
        if completion.prompt_tokens:
            self._context = (completion.prompt_tokens + completion.completion_tokens, len(self.messages))
        return message

    def execute(self, message: dict[str, Any]) -> None:
        calls = message.get("tool_calls") or []
        if not calls:
            self.messages.append({"role": "user", "content": NO_TOOL_CALL})
            return self.format_error()
        parsed: list[tuple[dict[str, Any], dict[str, Any] | None, str]] = []
        for call in calls:
            try:
                parsed.append((call, parse_call(call["function"]["name"], call["function"]["arguments"]), ""))
            except ToolCallError as exc:
                parsed.append((call, None, str(exc)))
        valid = [(call["function"]["name"], args) for call, args, _ in parsed if args is not None]
        if not valid:
            for call, _, problem in parsed:
                self.observe(call, f"ERROR: {problem}")
            return self.format_error()
        self.format_errors = 0
        self.check_repeat("\n".join(action_key(name, args) for name, args in valid))
        finished: _Finished | None = None
        for call, args, problem in parsed:
            if finished is not None:
                self.observe(call, "Not run: submit had already ended the episode."
                             if finished.exit_status == ExitStatus.SUBMITTED
                             else "Not run: the sandbox had ended.")
            elif args is None:
                self.observe(call, f"ERROR: {problem}")
            else:
                try:
                    if self.run_tool(call, args):
                        finished = _Finished(ExitStatus.SUBMITTED)
                except SandboxGone as exc:
                    error = redact(f"{type(exc).__name__}: {exc}")
                    self.observe(call, f"ERROR: {redact(str(exc))}. Nothing more can run in it; "
                                       "the episode is over.")
                    finished = _Finished(ExitStatus.ERROR, error)
        if finished is not None:
            raise finished

    def format_error(self) -> None:
        self.format_errors += 1
        self.stats["format_errors"] += 1
        self.last_action, self.repeats = "", 0
        if self.format_errors > self.limits.format_error_limit:
            raise _Finished(ExitStatus.FORMAT_ERROR)

    def check_repeat(self, action: str) -> None:
        self.repeats = self.repeats + 1 if action == self.last_action else 1
        self.last_action = action
        if self.repeats > self.limits.repeat_limit:
            raise _Finished(ExitStatus.STUCK)

    def run_tool(self, call: dict[str, Any], args: dict[str, Any]) -> bool:
        """Run one checked call and add its observation; True when it was ``submit``."""
        name = call["function"]["name"]
        if name == "submit":
            self.observe(call, "Your changes were submitted; the episode is over.")
            return True
        if name == "str_replace_editor":
            self.observe(call, self.editor(args))
            return False
        remaining = self.remaining_s()
        if remaining <= 0:
            raise _Finished(ExitStatus.TIMEOUT)
        timeout = max(1.0, min(self.limits.command_timeout_s, remaining))
        result = self.sandbox.execute(args["command"], timeout_s=timeout)
        output = result.output if not result.output or result.output.endswith("\n") else result.output + "\n"
        if result.timed_out:
            self.stats["command_timeouts"] += 1
            output += (f"[The command ran past its time limit of {timeout:.0f} s and was "
                       "killed. Run long jobs in the background or with a smaller scope.]")
        else:
            output += f"[exit code: {result.exit_code}]"
        self.observe(call, output)
        return False

    def observe(self, call: dict[str, Any], text: str) -> None:
        self.messages.append({"role": "tool", "tool_call_id": call["id"],
                              "name": call["function"]["name"], "content": _clip(text)})


def run_agent(policy: Policy, sandbox: Sandbox, problem_statement: str,
              limits: AgentLimits = AgentLimits()) -> AgentResult:
    """One rollout of ``policy`` in ``sandbox`` on an issue; the patch is ``sandbox.diff()`` at the end."""
    return Agent(policy, sandbox, limits).run(problem_statement)
