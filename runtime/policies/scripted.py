"""A policy that answers with a fixed list of assistant messages, for tests and examples.

    policy = ScriptedPolicy([call("bash", command="ls"), call("submit")])

It ships in the package so that tests need no mocks: the loop, the tools and the sandbox run for
real and only the model is replaced by a script.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from swegc.records import Instance
from swegc.runtime.policies import Completion, PolicyError, PolicyOptions


def call(tool: str, content: str | None = None, **arguments: Any) -> dict[str, Any]:
    """An assistant message with one call of ``tool`` with ``arguments``."""
    return calls((tool, arguments), content=content)


def calls(*pairs: tuple[str, dict[str, Any]], content: str | None = None) -> dict[str, Any]:
    """An assistant message calling each (tool, arguments) pair in order."""
    return {"role": "assistant", "content": content,
            "tool_calls": [{"id": f"call_{i}", "type": "function",
                            "function": {"name": tool, "arguments": json.dumps(args)}}
                           for i, (tool, args) in enumerate(pairs)]}


class ScriptedPolicy:
    """Returns ``script[i]`` on the i-th call; running out of script is a ``PolicyError``."""

    name = "scripted"

    def __init__(self, script: Sequence[Mapping[str, Any]], model: str = "scripted"):
        self.script = [copy.deepcopy(dict(m)) for m in script]
        self.model = model
        self.calls = 0

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "n_messages": len(self.script)}

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        if self.calls >= len(self.script):
            raise PolicyError(f"the script has only {len(self.script)} message(s)")
        message = copy.deepcopy(self.script[self.calls])
        self.calls += 1
        return Completion(message=message)


def make(options: PolicyOptions, instance: Instance, sample: int) -> ScriptedPolicy:
    return ScriptedPolicy(options.script, model=options.model or "scripted")
