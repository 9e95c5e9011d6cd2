"""Asking a policy for an edit of the drafted spec where no repair rule answers.

The probe's rules know the common failures; the long tail (a test that needs an environment
variable, a build step nobody wrote down) is for a model. It gets one chat completion: the
failing log's tail and the spec's YAML, and is asked for one edit as JSON ``{path, value,
why}``, either as a call of the ``edit_spec`` tool or as JSON in its answer. What it proposes
is only a proposal: the path must name a key the spec language has, the edited spec must pass
``swegc check``, and the probe keeps it only when the next round's yield goes up, like any
rule's edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from swegc.compiler.draft.failures import Failure
from swegc.compiler.draft.model import Draft
from swegc.compiler.draft.repair import Edit

# What a policy may set: keys of an environment, and the test settings an environment shares.
_ENV_KEYS = ("python", "apt", "pre_install", "pip", "install", "post_install", "env", "pip_date",
             "pip_date_exempt", "build_outputs", "prepare", "upgrade_pip", "versions")
_TEST_KEYS = ("command", "timeout", "env", "prepare", "network", "files", "directive_files")
_PATH = re.compile(r"^(?:environments\.\d+\.(?:%s)(?:\.\w+)?|tests\.(?:%s)(?:\.\w+)?)$"
                   % ("|".join(_ENV_KEYS), "|".join(_TEST_KEYS)))
EDIT_TOOL = {"type": "function", "function": {
    "name": "edit_spec",
    "description": "Set one key of the swegc spec so that its environments build and its tests run.",
    "parameters": {"type": "object", "required": ["path", "value", "why"], "properties": {
        "path": {"type": "string", "description": "dotted key, e.g. environments.0.pip or "
                                                  "tests.env.LANG (list items by index)"},
        "value": {"description": "the key's whole new value (a list replaces the list)"},
        "why": {"type": "string", "description": "one line: why this fixes the failure"}}}}}
SYSTEM = ("You repair swegc specs: YAML files saying how to install a Python repository at each "
          "of its versions (environments: python, apt, pip, install, env, pip_date, "
          "pip_date_exempt, prepare) and how to run its tests (tests: command, timeout, env, "
          "network). A probe compile failed as the log shows. Propose exactly one edit with the "
          "edit_spec tool, or answer with JSON {\"path\": ..., \"value\": ..., \"why\": ...}.")


def make_policy(name: str) -> Any:
    """A policy by name, with options from the environment (``SWEGC_DRAFT_MODEL``,
    ``OPENAI_BASE_URL``); the draft has no instance to give it."""
    import os

    from swegc.runtime.policies import PolicyOptions, check_policy_name, get_policy

    check_policy_name(name)
    options = PolicyOptions(model=os.environ.get("SWEGC_DRAFT_MODEL", ""),
                            base_url=os.environ.get("OPENAI_BASE_URL"), max_tokens=512)
    return get_policy(name, options, None, 0)  # type: ignore[arg-type]  # no instance here


def ask_policy(policy: Any, draft: Draft, failure: Failure,
               echo: Callable[[str], None]) -> Edit | None:
    """The policy's edit for ``failure``, or None (said on the console) where it gave none that
    names a key of the spec language or it failed."""
    from swegc.runtime.policies import PolicyError

    prompt = (f"The failure ({failure.kind}, {failure.reason or 'env build'}"
              f"{', environments.' + str(failure.env_index) if failure.env_index is not None else ''}"
              f"):\n{failure.evidence}\n\nThe end of its log:\n```\n{failure.log_tail[-3000:]}\n"
              f"```\n\nThe spec:\n```yaml\n{draft.to_yaml()}```")
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
    try:
        message = policy.complete(messages, [EDIT_TOOL]).message
    except PolicyError as exc:
        echo(f"probe: policy {getattr(policy, 'name', policy)} gave no answer: {exc}")
        return None
    edit = parse_edit(message)
    if edit is None:
        echo(f"probe: policy {getattr(policy, 'name', policy)} proposed no edit of a spec key")
    return edit


def parse_edit(message: dict[str, Any]) -> Edit | None:
    """The edit in an assistant message: an ``edit_spec`` call's arguments, else the first JSON
    object in its text; None when there is none or its path is not a key a spec may set."""
    candidates: list[str] = [call.get("function", {}).get("arguments", "")
                             for call in message.get("tool_calls") or []]
    text = message.get("content") or ""
    candidates += re.findall(r"\{.*\}", text, flags=re.DOTALL)
    for raw in candidates:
        try:
            data = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            continue
        if not _PATH.match(data["path"]) or "value" not in data:
            continue
        why = str(data.get("why") or "proposed by a policy")
        return Edit(data["path"], data["value"], f"{why} (a policy's edit)")
    return None
