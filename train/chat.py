"""Chat formatting for training: message normalisation, the training chat template, masks.

Trajectory messages are OpenAI chat messages whose tool-call ``arguments`` are JSON strings.
Before templating, arguments that parse as JSON become objects (transformers' convention, so a
template's ``tojson`` writes them once); content lists become text. Tokenization goes through
``tokenizer.apply_chat_template(..., return_assistant_tokens_mask=True)``, which needs a template
with ``{% generation %}`` markers: the tokenizer's own when it has them, else trl's training
variant of a known template, else swegc's Qwen2.5-style template (``chat_template.jinja``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from swegc.nesting import loads
from swegc.train.errors import TrainSetupError

TEMPLATE_FILE = "chat_template.jinja"


def builtin_chat_template() -> str:
    """swegc's Qwen2.5-style training template (ChatML, tool calls, generation markers)."""
    return resources.files("swegc.train").joinpath(TEMPLATE_FILE).read_text(encoding="utf-8")


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def normalize_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages in the shape chat templates expect (text content, argument objects)."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        norm: dict[str, Any] = {"role": msg.get("role", "user"), "content": _text(msg.get("content"))}
        calls = msg.get("tool_calls") or []
        if calls:
            norm["tool_calls"] = [
                {"id": c.get("id", ""), "type": "function",
                 "function": {"name": (c.get("function") or {}).get("name", ""),
                              "arguments": _arguments((c.get("function") or {}).get("arguments", {}))}}
                for c in calls]
        for key in ("tool_call_id", "name"):
            if msg.get(key) is not None:
                norm[key] = msg[key]
        out.append(norm)
    return out


def _has_markers(template: Any) -> bool:
    text = template.get("default", "") if isinstance(template, dict) else (template or "")
    return "{% generation %}" in text or "{%- generation %}" in text or "generation %}" in text


def resolve_chat_template(tokenizer: Any, template_path: str | None = None) -> tuple[str, str]:
    """The training template to use and where it came from (for the report and the card).

    Order: an explicit file; the tokenizer's own template when it has generation markers;
    trl's training variant of the tokenizer's template; swegc's template for ChatML tokenizers.
    """
    if template_path:
        try:
            text = Path(template_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise TrainSetupError(f"{template_path}: cannot read chat template: {exc.strerror}") from None
        if not _has_markers(text):
            raise TrainSetupError(f"{template_path}: the chat template has no {{% generation %}} markers; "
                                  "wrap what the assistant writes in {% generation %}...{% endgeneration %}")
        return text, template_path
    own = tokenizer.chat_template
    if own and _has_markers(own):
        return (own["default"] if isinstance(own, dict) else own), "tokenizer"
    if own:
        try:
            from trl.chat_template_utils import get_training_chat_template
            patched = get_training_chat_template(tokenizer)
        except Exception:  # trl raises for templates it does not know
            patched = None
        if patched:
            return patched, "trl training variant"
    vocab = tokenizer.get_vocab()
    if "<|im_start|>" in vocab and "<|im_end|>" in vocab:
        return builtin_chat_template(), f"swegc {TEMPLATE_FILE}"
    raise TrainSetupError("the base model's chat template has no {% generation %} markers and is not one "
                          "swegc or trl knows; pass --chat-template FILE with a template that marks the "
                          "assistant's turns with {% generation %}...{% endgeneration %}")


@dataclass(frozen=True)
class Encoded:
    """A tokenized conversation: ids and a 0/1 mask of the tokens the assistant wrote."""

    input_ids: list[int]
    assistant_masks: list[int]


def encode_conversation(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                        chat_template: str) -> Encoded:
    """Tokenize a whole conversation with the assistant-token mask."""
    out = tokenizer.apply_chat_template(normalize_messages(messages), tools=tools or None,
                                        chat_template=chat_template, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    ids = list(out["input_ids"])
    mask = list(out["assistant_masks"])
    return Encoded(ids, mask)


def render_prompt(tokenizer: Any, messages: list[dict[str, Any]], chat_template: str | None) -> str:
    """Text of ``messages`` followed by the generation prompt (the verifier prompt's frame)."""
    if chat_template is None:
        return "".join(f"{m['role']}:\n{m['content']}\n\n" for m in messages) + "assistant:\n"
    return tokenizer.apply_chat_template(messages, chat_template=chat_template, tokenize=False,
                                         add_generation_prompt=True)
