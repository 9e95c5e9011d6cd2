"""Loading a trained verifier and scoring trajectories with it.

Score = P(YES) / (P(YES) + P(NO)), the two-way softmax of the logits of the answers' first
tokens at the answer position. The token ids stored at training time are re-derived from the
loaded tokenizer and must match, so a swapped tokenizer is caught rather than scored wrongly.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.records import Trajectory
from swegc.train.errors import VerifierError
from swegc.train.verifier_prompt import PROMPT_VERSION, verifier_prompt
from swegc.train.verifier import VERIFIER_META_FILE, VERIFIER_SCHEMA_VERSION, check_answers


@dataclass
class VerifierScorer:
    """A loaded verifier: model, tokenizer, template and checked answer token ids."""

    model: Any
    tokenizer: Any
    chat_template: str | None
    yes_id: int
    no_id: int
    max_prompt: int
    yes: str
    no: str
    checked: bool = False

    @classmethod
    def load(cls, path: str, device: str | None = None, max_length: int | None = None) -> VerifierScorer:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(path)
        meta_path = folder / VERIFIER_META_FILE
        if not meta_path.is_file():
            raise VerifierError(f"{folder}: not a swegc verifier (no {VERIFIER_META_FILE}); train one with "
                                "'swegc train verifier'")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("schema_version") != VERIFIER_SCHEMA_VERSION or meta.get("prompt_version") != PROMPT_VERSION:
            raise VerifierError(f"{meta_path}: verifier schema {meta.get('schema_version')} / prompt "
                                f"{meta.get('prompt_version')} is not what this swegc reads "
                                f"({VERIFIER_SCHEMA_VERSION} / {PROMPT_VERSION}); retrain it")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if (folder / "config.json").is_file():
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        else:  # adapter only
            from peft import AutoPeftModelForCausalLM
            model = AutoPeftModelForCausalLM.from_pretrained(folder, dtype=dtype)
        model.to(device).eval()
        template = tokenizer.chat_template if meta.get("uses_chat_template") else None
        if isinstance(template, dict):
            template = template.get("default")
        limit = min(max_length or meta["max_length"], meta["max_length"])
        return cls(model, tokenizer, template, int(meta["yes_token_id"]), int(meta["no_token_id"]),
                   limit - 8, meta["yes"], meta["no"])

    def _check(self, text: str, ids: list[int]) -> None:
        found = check_answers(self.tokenizer, text, ids, self.yes, self.no)
        if found != (self.yes_id, self.no_id):
            raise VerifierError(f"the verifier's tokenizer maps {self.yes!r}/{self.no!r} to tokens {found}, "
                                f"but it was trained with {(self.yes_id, self.no_id)}; the tokenizer in the "
                                "verifier folder was changed")
        self.checked = True

    def score(self, trajectories: list[Trajectory], statements: dict[str, str] | None = None,
              batch_size: int = 4) -> list[float]:
        """One score in [0, 1] per trajectory, in order."""
        import torch

        prompts = []
        for traj in trajectories:
            prompt = verifier_prompt(self.tokenizer, traj, self.chat_template, self.max_prompt, statements)
            if not self.checked:
                self._check(prompt.text, prompt.ids)
            prompts.append(prompt.ids)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        scores = [0.0] * len(prompts)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        device = next(self.model.parameters()).device
        show = sys.stderr.isatty()
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            width = max(len(prompts[i]) for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, : len(prompts[i])] = torch.tensor(prompts[i])
                mask[row, : len(prompts[i])] = 1
            with torch.no_grad():
                logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            last = mask.sum(dim=1) - 1
            rows = logits[torch.arange(len(batch)), last.to(device)].float()
            pair = torch.stack([rows[:, self.yes_id], rows[:, self.no_id]], dim=1)
            probs = torch.softmax(pair, dim=1)[:, 0].tolist()
            for row, i in enumerate(batch):
                scores[i] = float(probs[row])
            if show:
                print(f"\rscored {min(start + batch_size, len(order))}/{len(order)}", end="", file=sys.stderr)
        if show:
            print(file=sys.stderr)
        return scores
