"""``swegc train verifier``: a YES/NO outcome verifier, and scoring with it.

Examples: resolved trajectories answer YES, unresolved ones NO; classes are balanced by
downsampling (seeded), and the share of on-policy examples can be set. Training is
prompt-completion SFT: loss on the answer (and end-of-turn) tokens only. The score of a
trajectory is P(YES) / (P(YES) + P(NO)) from the logits at the answer position. The answers'
first token ids are derived by tokenizing prompt + answer and checking that the prompt's ids
are a prefix and that YES and NO start with different tokens; they are stored in
``swegc_verifier.json`` and checked again when the verifier is loaded.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.train.capping import trajectory_digest
from swegc.train.cards import model_card, write_card, write_meta
from swegc.train.config import Hyper, VerifierConfig
from swegc.train.errors import NoTrainingDataError, VerifierError
from swegc.train.verifier_prompt import PROMPT_VERSION, verifier_prompt
from swegc.train.runs import Located
from swegc.train.sft import TrainResult, load_model, load_tokenizer, save_checkpoint, train

VERIFIER_META_FILE = "swegc_verifier.json"
VERIFIER_SCHEMA_VERSION = 1
EXAMPLES_FILE = "verifier_examples.jsonl"
_ANSWER_ROOM = 8  # tokens reserved after the prompt for the answer and end-of-turn


def answer_ids(tokenizer: Any, prompt_text: str, prompt_ids: list[int], answer: str) -> list[int]:
    """Ids of ``answer`` right after the prompt; the prompt's ids must be a prefix."""
    full = list(tokenizer(prompt_text + answer, add_special_tokens=False)["input_ids"])
    if full[: len(prompt_ids)] != prompt_ids or len(full) == len(prompt_ids):
        raise VerifierError(f"the answer {answer!r} merges with the end of the verifier prompt when "
                            "tokenized; use a chat template whose generation prompt ends on a token "
                            "boundary (a newline), or other --yes/--no texts")
    return full[len(prompt_ids):]


def check_answers(tokenizer: Any, prompt_text: str, prompt_ids: list[int], yes: str, no: str) -> tuple[int, int]:
    yes_ids = answer_ids(tokenizer, prompt_text, prompt_ids, yes)
    no_ids = answer_ids(tokenizer, prompt_text, prompt_ids, no)
    if yes_ids[0] == no_ids[0]:
        raise VerifierError(f"{yes!r} and {no!r} start with the same token ({yes_ids[0]}); the verifier "
                            "compares first tokens, so choose answers that differ at the start")
    return yes_ids[0], no_ids[0]


def _end_text(tokenizer: Any) -> str:
    return tokenizer.eos_token or ""


@dataclass(frozen=True)
class Example:
    """One verifier example before tokenization."""

    loc: Located
    label: bool
    on_policy: bool


def _take(items: list[Example], n: int, rng: random.Random) -> list[Example]:
    return items if n >= len(items) else rng.sample(items, n)


def choose_examples(runs: list[Located], on_policy_sources: set[str], balance: bool,
                    on_policy_ratio: float | None, seed: int) -> list[Example]:
    """Balanced (and on/off-policy mixed) examples, in a deterministic order."""
    rng = random.Random(seed)
    ordered = sorted(runs, key=lambda loc: (loc.trajectory.instance_id, loc.trajectory.run_id,
                                            trajectory_digest(loc.trajectory)))
    classes: dict[bool, dict[bool, list[Example]]] = {True: {True: [], False: []}, False: {True: [], False: []}}
    for loc in ordered:
        ex = Example(loc, bool(loc.trajectory.resolved), loc.source in on_policy_sources)
        classes[ex.label][ex.on_policy].append(ex)

    def capacity(cls: dict[bool, list[Example]]) -> int:
        on, off = len(cls[True]), len(cls[False])
        if on_policy_ratio is None:
            return on + off
        if on_policy_ratio <= 0:
            return off
        if on_policy_ratio >= 1:
            return on
        return int(min(on / on_policy_ratio, off / (1 - on_policy_ratio)))

    sizes = {label: capacity(cls) for label, cls in classes.items()}
    if balance:
        n = min(sizes.values())
        sizes = {label: n for label in sizes}
    chosen: list[Example] = []
    for label in (True, False):
        cls, size = classes[label], sizes[label]
        if on_policy_ratio is None:
            chosen += _take(cls[True] + cls[False], size, rng)
        else:
            n_on = round(size * on_policy_ratio)
            chosen += _take(cls[True], n_on, rng) + _take(cls[False], size - n_on, rng)
    rng.shuffle(chosen)
    return chosen


def prompt_budget(hyper: Hyper) -> int:
    return hyper.max_length - _ANSWER_ROOM


def run_verifier(runs: list[Located], config: VerifierConfig, on_policy_sources: set[str],
                 statements: dict[str, str] | None,
                 echo: Callable[[str], None] = print) -> tuple[list[Example], TrainResult]:
    """Build examples, train, save the verifier with its metadata and card."""
    config.hyper.check()
    if config.on_policy_ratio is not None and not 0 <= config.on_policy_ratio <= 1:
        raise VerifierError("--on-policy-ratio must be between 0 and 1")
    tokenizer = load_tokenizer(config.base_model)
    template = _verifier_template(tokenizer, config.chat_template)
    examples = choose_examples(runs, on_policy_sources, config.balance, config.on_policy_ratio,
                               config.hyper.seed)
    counts = Counter((("YES" if e.label else "NO"), ("on" if e.on_policy else "off")) for e in examples)
    echo("verifier examples: " + ", ".join(f"{lab}/{src}-policy {n}" for (lab, src), n in sorted(counts.items()))
         + f" (from {len(runs)} trajectories)")
    if not examples or not any(e.label for e in examples) or all(e.label for e in examples):
        raise NoTrainingDataError("the verifier needs both resolved and unresolved trajectories; "
                                  f"the runs give {sum(e.loc.trajectory.resolved for e in runs)} resolved "
                                  f"of {len(runs)}")
    rows, tokenized, ids_checked = [], [], None
    end = _end_text(tokenizer)
    for i, ex in enumerate(examples):
        prompt = verifier_prompt(tokenizer, ex.loc.trajectory, template, prompt_budget(config.hyper), statements)
        if ids_checked is None:
            ids_checked = check_answers(tokenizer, prompt.text, prompt.ids, config.yes, config.no)
        answer = answer_ids(tokenizer, prompt.text, prompt.ids, (config.yes if ex.label else config.no) + end)
        tokenized.append({"input_ids": prompt.ids + answer,
                          "completion_mask": [0] * len(prompt.ids) + [1] * len(answer)})
        t = ex.loc.trajectory
        rows.append({"instance_id": t.instance_id, "run_id": t.run_id, "where": ex.loc.where,
                     "label": "YES" if ex.label else "NO", "on_policy": ex.on_policy,
                     "prompt_tokens": len(prompt.ids), "truncated": prompt.truncated})
        if sys.stderr.isatty() and (i + 1) % 50 == 0:
            echo(f"  rendered {i + 1}/{len(examples)} verifier prompts")
    assert ids_checked is not None
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / EXAMPLES_FILE).open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)
    if template is not None:
        tokenizer.chat_template = template
    model = load_model(config.base_model, config.hyper)
    model, result = train(model, tokenizer, tokenized, config.hyper, config.out_dir, completion_only=True)
    layout = save_checkpoint(model, tokenizer, config.out_dir, config.hyper)
    meta = {"schema_version": VERIFIER_SCHEMA_VERSION, "prompt_version": PROMPT_VERSION,
            "yes": config.yes, "no": config.no, "yes_token_id": ids_checked[0],
            "no_token_id": ids_checked[1], "max_length": config.hyper.max_length,
            "uses_chat_template": template is not None, "base_model": config.base_model,
            "layout": layout}
    (out / VERIFIER_META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_meta(config.out_dir, "verifier", {"config": config.to_json(), "layout": layout,
                                            "examples": {f"{k[0]}/{k[1]}": v for k, v in counts.items()},
                                            "result": result.to_json()})
    data_facts = {"examples": len(examples), **{f"{lab} {src}-policy": n for (lab, src), n in counts.items()},
                  "truncated prompts": sum(r["truncated"] for r in rows)}
    write_card(config.out_dir, model_card("verifier", config.base_model, layout, config.to_json(),
                                          data_facts, result.to_json()))
    return examples, result


def _verifier_template(tokenizer: Any, path: str | None) -> str | None:
    if path:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise VerifierError(f"{path}: cannot read chat template: {exc.strerror}") from None
    own = tokenizer.chat_template
    if isinstance(own, dict):
        return own.get("default")
    return own or None
