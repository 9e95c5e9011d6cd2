"""Policies: what chooses the agent's next message, by short name.

A policy turns the conversation so far into the next assistant message (OpenAI chat format,
tool calls with JSON-string arguments). Each implementation lives in its own module and is
imported only when asked for, so that ``import swegc`` stays fast (no openai, no torch).

    policy = get_policy("openai", PolicyOptions(model="gpt-4o-mini"), instance, sample=0)
    result = run_agent(policy, sandbox, instance.problem_statement)

Names: ``openai`` (any OpenAI-compatible endpoint), ``transformers`` (a local model in this
process), ``replay`` (a recorded trajectory's assistant messages), ``gold`` (applies the
instance's own patch through the tools) and ``scripted`` (a fixed list of messages, for tests).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from swegc.errors import InputError, SwegcError
from swegc.records import Instance


@dataclass(frozen=True)
class Completion:
    """One answer of a policy: the assistant message and what it cost."""

    message: dict[str, Any]
    prompt_tokens: int = 0  # 0 when the policy does not know; the loop then estimates
    completion_tokens: int = 0
    cost: float = 0.0


class PolicyError(SwegcError):
    """The policy could not answer (endpoint down after retries, replay exhausted, ...)."""


class Policy(Protocol):
    name: str

    def settings(self) -> dict[str, Any]:
        """Model name, sampling parameters and seed: the trajectory's ``policy`` field (never a key)."""
        ...

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        ...


@dataclass(frozen=True)
class PolicyOptions:
    """How to build a policy; each policy reads the fields it needs and ignores the rest."""

    model: str = ""
    """Model name sent to the endpoint (openai) or recorded in trajectories."""
    base_url: str | None = None
    """OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (vllm serve); unset: the
    openai client's own default (OPENAI_BASE_URL, else OpenAI's API)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable that holds the API key (never logged); unset means no key (local
    servers)."""
    temperature: float = 0.0
    """Sampling temperature; 0 is greedy."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    max_tokens: int = 1024
    """Most tokens one completion may generate."""
    seed: int | None = None
    """Base seed; sample ``k`` of an instance uses ``seed + k``."""
    max_retries: int = 5
    """Retries (exponential backoff) on 429, 5xx and connection errors (openai)."""
    request_timeout_s: float = 600.0
    """Time limit of one request (openai)."""
    replay: str | None = None
    """Trajectory file (JSONL or parquet) or Hub-layout folder to replay (replay)."""
    model_path: str | None = None
    """Folder of a local model and tokenizer (transformers)."""
    script: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """Assistant messages to return in order (scripted)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "policy options") -> PolicyOptions:
        """Options from a mapping; a misspelled key is an error that names the close match."""
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise InputError(f"{where}: unknown policy option {key!r}{_did_you_mean(key, known)}; "
                                 f"known options are {', '.join(known)}")
        values = dict(data)
        if "script" in values:
            values["script"] = tuple(values["script"])
        return cls(**values)

    def sample_seed(self, sample: int) -> int | None:
        return None if self.seed is None else self.seed + sample


# name -> (module, factory); factories are ``make(options, instance, sample) -> Policy``
POLICIES: dict[str, str] = {
    "openai": "swegc.runtime.policies.openai_policy",
    "transformers": "swegc.runtime.policies.transformers_policy",
    "replay": "swegc.runtime.policies.replay",
    "gold": "swegc.runtime.policies.gold",
    "scripted": "swegc.runtime.policies.scripted",
}


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_policy_name(name: str) -> None:
    """Raise ``InputError`` for a name that is not a policy, listing the valid ones."""
    if name not in POLICIES:
        raise InputError(f"unknown policy {name!r}{_did_you_mean(name, list(POLICIES))}; the "
                         f"policies are {', '.join(POLICIES)}")


def get_policy(name: str, options: PolicyOptions, instance: Instance, sample: int = 0) -> Policy:
    """The policy ``name`` for rollout ``sample`` of ``instance``."""
    check_policy_name(name)
    module = importlib.import_module(POLICIES[name])
    return module.make(options, instance, sample)
