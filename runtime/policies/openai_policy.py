"""A policy served by any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, SGLang, ...).

The official ``openai`` client does the HTTP and the retries: 408, 409, 429, 5xx and connection
errors are retried ``max_retries`` times with exponential backoff (0.5 s doubling, at most 8 s,
honouring Retry-After). The API key is read from the environment variable the options name,
handed to the client and nowhere else: not to ``settings()``, not to errors (which are redacted
of it too, in case a server echoes it back).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from swegc.errors import InputError
from swegc.records import Instance
from swegc.redact import redact
from swegc.runtime.policies import Completion, PolicyError, PolicyOptions

LOCAL_PLACEHOLDER_KEY = "EMPTY"  # what local servers (vLLM, SGLang) accept when none is set


def _public_url(url: str | None) -> str | None:
    """``url`` without user:password@, safe to record."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_MESSAGE_KEYS = {"system": ("role", "content"), "user": ("role", "content"),
                 "assistant": ("role", "content", "tool_calls"),
                 "tool": ("role", "content", "tool_call_id")}


def _request_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with only the keys the chat-completions API takes for each role.

    Trajectories keep a tool message's ``name`` for readers; strict endpoints reject it.
    """
    return [{k: m[k] for k in _MESSAGE_KEYS.get(m.get("role", ""), tuple(m)) if k in m}
            for m in messages]


def _message(choice: Any) -> dict[str, Any]:
    msg = choice.message
    out: dict[str, Any] = {"role": "assistant", "content": msg.content}
    if msg.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.function.name, "arguments": c.function.arguments}}
                             for c in msg.tool_calls if getattr(c, "function", None) is not None]
    return out


class OpenAIPolicy:
    name = "openai"

    def __init__(self, options: PolicyOptions, seed: int | None = None):
        import openai

        if not options.model:
            raise InputError("the openai policy needs a model name (options.model)")
        key = os.environ.get(options.api_key_env, "")
        if not key and not options.base_url:
            raise InputError(f"the openai policy has no API key: set {options.api_key_env} (or "
                             "give base_url for a local server that needs none)")
        self.options, self.seed = options, seed
        self._secrets = [key] if key else []
        kwargs: dict[str, Any] = {"api_key": key or LOCAL_PLACEHOLDER_KEY,
                                  "max_retries": options.max_retries,
                                  "timeout": options.request_timeout_s}
        if options.base_url:
            kwargs["base_url"] = options.base_url
        self.client = openai.OpenAI(**kwargs)

    def settings(self) -> dict[str, Any]:
        o = self.options
        return {"name": self.name, "model": o.model, "base_url": _public_url(o.base_url),
                "temperature": o.temperature, "top_p": o.top_p, "max_tokens": o.max_tokens,
                "seed": self.seed}

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        import openai

        o = self.options
        request: dict[str, Any] = {"model": o.model, "messages": _request_messages(messages), "tools": tools,
                                   "temperature": o.temperature, "top_p": o.top_p,
                                   "max_tokens": o.max_tokens}
        if self.seed is not None:
            request["seed"] = self.seed
        where = _public_url(o.base_url) or "the OpenAI API"
        try:
            response = self.client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            raise PolicyError(self._redact(f"{where} answered HTTP {exc.status_code} after "
                                           f"{o.max_retries} retries: {exc.message}")) from None
        except openai.APIConnectionError as exc:
            raise PolicyError(self._redact(f"cannot reach {where} after {o.max_retries} "
                                           f"retries: {exc}")) from None
        if not response.choices:
            raise PolicyError(f"{where} answered with no choices")
        usage = response.usage
        extra = (usage.model_extra or {}) if usage is not None else {}
        return Completion(message=_message(response.choices[0]),
                          prompt_tokens=usage.prompt_tokens if usage else 0,
                          completion_tokens=usage.completion_tokens if usage else 0,
                          cost=float(extra.get("cost") or 0.0))

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


def make(options: PolicyOptions, instance: Instance, sample: int) -> OpenAIPolicy:
    return OpenAIPolicy(options, seed=options.sample_seed(sample))
