"""The gold (oracle) policy: applies the instance's own ``patch`` through the tools and submits.

It writes the patch to a file outside the repository with ``str_replace_editor create``, applies
it with ``git apply`` through ``bash``, and calls ``submit``. A gold rollout whose patch resolves
the instance proves that the instance can be solved through the runtime (image, sandbox, tools,
loop and grading together); one that does not points at the runtime, not at a model.
"""

from __future__ import annotations

import hashlib
from typing import Any

from swegc.errors import InputError
from swegc.records import Instance
from swegc.runtime.policies import Completion, PolicyOptions
from swegc.runtime.policies.scripted import ScriptedPolicy, call


def gold_script(patch: str) -> list[dict[str, Any]]:
    """The three assistant messages that apply ``patch`` and submit."""
    path = f"/tmp/swegc-gold-{hashlib.sha256(patch.encode()).hexdigest()[:12]}.patch"
    return [
        call("str_replace_editor", content="Writing the reference patch to a file.",
             command="create", path=path, file_text=patch),
        call("bash", content="Applying it to the repository.",
             command=f"cd /testbed && git apply --whitespace=nowarn {path} && rm {path} && git status --short"),
        call("submit", content="The reference patch is applied."),
    ]


class GoldPolicy:
    name = "gold"

    def __init__(self, instance_id: str, patch: str):
        self.instance_id = instance_id
        self._script = ScriptedPolicy(gold_script(patch))

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "model": "gold", "instance_id": self.instance_id}

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        return self._script.complete(messages, tools)


def make(options: PolicyOptions, instance: Instance, sample: int) -> GoldPolicy:
    if not instance.patch.strip():
        raise InputError(f"instance {instance.instance_id!r} has no patch for the gold policy")
    return GoldPolicy(instance.instance_id, instance.patch)
