"""The verifier's prompt (an LLM judging a trajectory, not the harness judge of test runs): the issue, the trajectory and the final diff, within a budget.

The prompt is a system and a user message rendered with the verifier model's chat template (plain
``role:`` text when the tokenizer has none), ending where the answer (YES / NO) starts. When
the parts do not fit the context, each part is cut in the middle (head and tail kept, with a
marker saying how many tokens were left out): the issue and the diff get at most a quarter of
the budget each, the trajectory the rest. The answer position is never cut.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from swegc.records import Trajectory
from swegc.train.chat import normalize_messages, render_prompt
from swegc.train.runs import problem_statement

PROMPT_VERSION = 1
SYSTEM = ("You are an expert judge evaluating AI assistant interactions. Your task is to determine "
          "if the assistant successfully resolved the user's request.")
QUESTION = ("Did the assistant resolve the issue: would the final diff make the repository's tests "
            "for this issue pass? Answer YES or NO.")
_SAFETY = 8  # tokens kept free for re-tokenization drift at cut points


def render_trajectory(traj: Trajectory) -> str:
    """The conversation after the issue, as readable text (tool calls and results included)."""
    lines: list[str] = []
    messages = normalize_messages(traj.messages)
    first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), -1)
    for i, msg in enumerate(messages):
        if msg["role"] == "system" or i == first_user:
            continue
        lines.append(f"[{msg['role']}]")
        if msg["content"]:
            lines.append(msg["content"])
        for call in msg.get("tool_calls", []):
            args = call["function"]["arguments"]
            args_text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            lines.append(f"[tool call] {call['function']['name']} {args_text}")
    return "\n".join(lines)


def _user_text(issue: str, trajectory: str, diff: str) -> str:
    return (f"<issue>\n{issue}\n</issue>\n\n<trajectory>\n{trajectory}\n</trajectory>\n\n"
            f"<final_diff>\n{diff}\n</final_diff>\n\n{QUESTION}")


def _messages(user: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _cut(tokenizer: Any, ids: list[int], budget: int) -> tuple[str, bool]:
    if len(ids) <= budget:
        return tokenizer.decode(ids), False
    keep = max(budget - 16, 2)
    head, tail = ids[: keep // 2], ids[len(ids) - (keep - keep // 2):]
    marker = f"\n[... {len(ids) - keep} tokens left out ...]\n"
    return tokenizer.decode(head) + marker + tokenizer.decode(tail), True


@dataclass(frozen=True)
class VerifierPrompt:
    """A rendered verifier prompt: its text, its token ids and whether anything was cut."""

    text: str
    ids: list[int]
    truncated: bool


def verifier_prompt(tokenizer: Any, traj: Trajectory, chat_template: str | None, max_prompt: int,
                 statements: dict[str, str] | None = None) -> VerifierPrompt:
    """The prompt for ``traj`` in at most ``max_prompt`` tokens."""
    issue, trajectory, diff = problem_statement(traj, statements), render_trajectory(traj), traj.patch
    frame = len(_ids(tokenizer, render_prompt(tokenizer, _messages(_user_text("", "", "")), chat_template)))
    budget = max_prompt - frame - _SAFETY
    if budget < 48:
        raise ValueError(f"max length {max_prompt} leaves no room for the verifier prompt ({frame} tokens of frame)")
    parts = [_ids(tokenizer, issue), _ids(tokenizer, trajectory), _ids(tokenizer, diff)]
    truncated = False
    for _ in range(4):
        issue_budget = min(len(parts[0]), budget // 4)
        diff_budget = min(len(parts[2]), budget // 4)
        traj_budget = budget - issue_budget - diff_budget
        texts = []
        for ids, part_budget in zip(parts, (issue_budget, traj_budget, diff_budget), strict=True):
            text, cut = _cut(tokenizer, ids, part_budget)
            texts.append(text)
            truncated |= cut
        text = render_prompt(tokenizer, _messages(_user_text(*texts)), chat_template)
        ids = _ids(tokenizer, text)
        if len(ids) <= max_prompt:
            return VerifierPrompt(text, ids, truncated)
        budget -= len(ids) - max_prompt + _SAFETY
    raise ValueError(f"could not fit the verifier prompt for {traj.instance_id} into {max_prompt} tokens")
