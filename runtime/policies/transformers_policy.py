"""A policy run by a local model in this process, with transformers.

The prompt is the tokenizer's chat template applied to the messages with the tool schemas;
tool calls are read back from the generated text in Qwen's (and Hermes') format,
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``. torch and transformers are
imported when the policy is built, never at ``import swegc``.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from swegc.errors import InputError
from swegc.nesting import loads
from swegc.records import Instance
from swegc.runtime.policies import Completion, PolicyOptions

_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def parse_tool_calls(text: str, id_prefix: str = "call") -> dict[str, Any]:
    """An assistant message from generated text: prose as content, each parsable block a call.

    A block whose JSON does not parse stays in the content, so that the loop answers "no tool
    call" (a format error) instead of guessing.
    """
    calls, kept, last = [], [], 0
    for match in _TOOL_CALL.finditer(text):
        try:
            data = loads(match.group(1))
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            continue
        arguments = data.get("arguments", {})
        calls.append({"id": f"{id_prefix}_{len(calls)}", "type": "function",
                      "function": {"name": data["name"],
                                   "arguments": arguments if isinstance(arguments, str)
                                   else json.dumps(arguments, ensure_ascii=False)}})
        kept.append(text[last:match.start()])
        last = match.end()
    kept.append(text[last:])
    content = "".join(kept).strip()
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Arguments as objects (transformers' convention, so templates encode them once)."""
    out = []
    for msg in messages:
        msg = dict(msg)
        if msg.get("tool_calls"):
            calls = []
            for call in msg["tool_calls"]:
                function = dict(call["function"])
                if isinstance(function.get("arguments"), str):
                    try:
                        function["arguments"] = loads(function["arguments"])
                    except json.JSONDecodeError:
                        pass
                calls.append({**call, "function": function})
            msg["tool_calls"] = calls
        out.append(msg)
    return out


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length"


class LocalModel:
    """A causal LM and its tokenizer loaded from a folder; one generation at a time."""

    def __init__(self, model_path: str):
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise InputError("the transformers policy needs the train extra "
                             "(pip install 'swegc[train]')") from exc
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_path)
            self.model = AutoModelForCausalLM.from_pretrained(model_path)
        except OSError as exc:
            raise InputError(f"{model_path}: cannot load a model and tokenizer: {exc}") from None
        self.model.eval()
        # Rollouts of one run share this model from several threads; the seed is torch's
        # global RNG, so a generation and its seeding must not interleave with another.
        self._lock = threading.Lock()
        if not self.tokenizer.chat_template:
            raise InputError(f"{model_path}: the tokenizer has no chat template")

    def generate(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *,
                 temperature: float = 0.0, top_p: float = 1.0, max_tokens: int = 256,
                 seed: int | None = None) -> Generation:
        import torch

        ids = self.tokenizer.apply_chat_template(_template_messages(messages), tools=tools or None,
                                                 add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)["input_ids"]
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} \
            if temperature > 0 else {"do_sample": False}
        with self._lock, torch.no_grad():
            if seed is not None:
                torch.manual_seed(seed)
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids),
                                      max_new_tokens=max_tokens,
                                      pad_token_id=self.tokenizer.pad_token_id,
                                      eos_token_id=self.tokenizer.eos_token_id, **sampling)
        new = out[0, ids.shape[1]:].tolist()
        stopped = bool(new) and new[-1] == self.tokenizer.eos_token_id
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return Generation(text, int(ids.shape[1]), len(new), "stop" if stopped else "length")


@functools.lru_cache(maxsize=4)
def load_model(model_path: str) -> LocalModel:
    """One loaded copy of a model folder per process: every rollout of a run shares it, instead
    of loading the weights again for each instance and sample."""
    return LocalModel(model_path)


class TransformersPolicy:
    name = "transformers"

    def __init__(self, options: PolicyOptions, seed: int | None = None, model: LocalModel | None = None):
        if not options.model_path and model is None:
            raise InputError("the transformers policy needs model_path (a folder with a model "
                             "and a tokenizer)")
        self.options, self.seed = options, seed
        self.model = model or load_model(str(options.model_path))
        self.calls = 0

    def settings(self) -> dict[str, Any]:
        o = self.options
        return {"name": self.name, "model": o.model or o.model_path, "temperature": o.temperature,
                "top_p": o.top_p, "max_tokens": o.max_tokens, "seed": self.seed}

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        o = self.options
        seed = None if self.seed is None else self.seed * 100_003 + self.calls  # reproducible per step
        self.calls += 1
        gen = self.model.generate(messages, tools, temperature=o.temperature, top_p=o.top_p,
                                  max_tokens=o.max_tokens, seed=seed)
        return Completion(parse_tool_calls(gen.text, id_prefix=f"call_{self.calls}"),
                          gen.prompt_tokens, gen.completion_tokens)


def make(options: PolicyOptions, instance: Instance, sample: int) -> TransformersPolicy:
    return TransformersPolicy(options, seed=options.sample_seed(sample))
