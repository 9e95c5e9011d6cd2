"""``swegc train rft``: capped rejection-sampling fine-tuning on resolved trajectories."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.records import Trajectory
from swegc.train.capping import Selection, select
from swegc.train.cards import model_card, write_card, write_meta
from swegc.train.chat import Encoded, encode_conversation, resolve_chat_template
from swegc.train.config import RFTConfig
from swegc.train.errors import NoTrainingDataError
from swegc.train.runs import Located
from swegc.train.sft import TrainResult, load_model, load_tokenizer, save_checkpoint, train

SELECTION_FILE = "selection.jsonl"


@dataclass(frozen=True)
class RFTData:
    """Selected trajectories, their tokenized examples and the training chat template."""

    selection: Selection
    examples: list[dict[str, list[int]]]
    chat_template: str
    template_source: str


def prepare(runs: list[Located], config: RFTConfig, tokenizer: Any) -> RFTData:
    """Cap, drop over-long trajectories and tokenize what is kept (assistant masks included)."""
    template, source = resolve_chat_template(tokenizer, config.chat_template)
    cache: dict[int, Encoded] = {}

    def encode(traj: Trajectory) -> Encoded:
        key = id(traj)
        if key not in cache:
            cache[key] = encode_conversation(tokenizer, traj.messages, traj.tools, template)
        return cache[key]

    def length_of(traj: Trajectory) -> int:
        return len(encode(traj).input_ids)

    selection = select(runs, config.cap, config.hyper.max_length, length_of,
                       include_suspicious=config.include_suspicious)
    examples = []
    for loc in selection.kept:
        enc = encode(loc.trajectory)
        examples.append({"input_ids": enc.input_ids, "assistant_masks": enc.assistant_masks})
    return RFTData(selection, examples, template, source)


def write_selection(out_dir: str, selection: Selection) -> Path:
    path = Path(out_dir) / SELECTION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for decision in selection.decisions:
            handle.write(json.dumps(decision.to_json()) + "\n")
    return path


def run_rft(runs: list[Located], config: RFTConfig,
            echo: Callable[[str], None] = print) -> tuple[RFTData, TrainResult]:
    """The whole command: select, report, train, save checkpoint, card and metadata."""
    config.hyper.check()
    tokenizer = load_tokenizer(config.base_model)
    data = prepare(runs, config, tokenizer)
    report = write_selection(config.out_dir, data.selection)
    echo(f"selection: {data.selection.summary()} (every decision in {report})")
    if not data.examples:
        raise NoTrainingDataError(f"no trajectory was kept for RFT; see {report} for why each was dropped")
    tokenizer.chat_template = data.chat_template
    model = load_model(config.base_model, config.hyper)
    echo(f"training {config.base_model} on {len(data.examples)} trajectories "
         f"(chat template: {data.template_source}, {'LoRA' if config.hyper.lora else 'full'})")
    model, result = train(model, tokenizer, data.examples, config.hyper, config.out_dir,
                          completion_only=False)
    layout = save_checkpoint(model, tokenizer, config.out_dir, config.hyper)
    counts = dict(data.selection.counts())
    data_facts = {"trajectories read": len(data.selection.decisions),
                  **{f"trajectories {k}": v for k, v in sorted(counts.items())},
                  "instances": len({d.instance_id for d in data.selection.decisions if d.decision == "kept"}),
                  "cap per instance": config.cap, "chat template": data.template_source}
    write_meta(config.out_dir, "rft", {"config": config.to_json(), "layout": layout,
                                       "selection": counts, "result": result.to_json(),
                                       "chat_template_source": data.template_source})
    write_card(config.out_dir, model_card("rft", config.base_model, layout, config.to_json(),
                                          data_facts, result.to_json()))
    return data, result
