"""Model cards and the swegc metadata file written next to every checkpoint.

The card's YAML header carries what the Hub reads (base_model, library_name, tags,
pipeline_tag); the body says what the model was trained on, with which settings, and how to
serve it with vLLM. ``swegc_train.json`` keeps the same facts machine-readably, with a schema
version, for hub/ and for ``swegc rerank``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

TRAIN_META_FILE = "swegc_train.json"
TRAIN_META_SCHEMA_VERSION = 1


def write_meta(out_dir: str, kind: str, meta: dict[str, Any]) -> Path:
    from swegc import __version__

    path = Path(out_dir) / TRAIN_META_FILE
    payload = {"schema_version": TRAIN_META_SCHEMA_VERSION, "kind": kind, "swegc_version": __version__,
               **meta}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _serve_text(kind: str, layout: dict[str, str], base_model: str) -> str:
    if "weights" in layout:
        lines = ["vllm serve ./ --served-model-name swegc-" + kind]
        if "adapter" in layout and layout["adapter"] != ".":
            lines.append(f"# or the adapter alone on the base model:\n"
                         f"vllm serve {base_model} --enable-lora --lora-modules swegc-{kind}=./{layout['adapter']}")
    else:
        lines = [f"vllm serve {base_model} --enable-lora --lora-modules swegc-{kind}=./"]
    return "\n".join(lines)


def model_card(kind: str, base_model: str, layout: dict[str, str], config: dict[str, Any],
               data: dict[str, Any], result: dict[str, Any]) -> str:
    """README.md text for a checkpoint folder."""
    adapter_only = "weights" not in layout
    header = {
        "base_model": base_model,
        "library_name": "peft" if adapter_only else "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["swegc", "swe-agent", "trl", "sft", "rft" if kind == "rft" else "verifier"],
    }
    what = ("Capped rejection-sampling fine-tuning (RFT) on resolved agent trajectories, loss on "
            "assistant turns only (tool calls included), as in SWE-Gym (arXiv 2412.21139)."
            if kind == "rft" else
            "Outcome verifier: given an issue, an agent trajectory and its final diff, answers YES "
            "(resolved) or NO. Score = P(YES) / (P(YES) + P(NO)) at the answer position, as in "
            "SWE-Gym (arXiv 2412.21139). Use it with `swegc rerank RUNS --verifier DIR`.")
    hyper = config.get("hyper", {})
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(hyper.items()))
    data_rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(data.items()))
    result_rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(result.items()))
    return (f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n\n"
            f"# swegc {kind} checkpoint\n\n{what}\n\n"
            f"Base model: `{base_model}`. Written by `swegc train {kind}`.\n\n"
            f"## Data\n\n| | |\n|---|---|\n{data_rows}\n\n"
            f"## Hyperparameters\n\n| | |\n|---|---|\n{rows}\n\n"
            f"## Training\n\n| | |\n|---|---|\n{result_rows}\n\n"
            f"## Serving\n\n```\n{_serve_text(kind, layout, base_model)}\n```\n")


def write_card(out_dir: str, text: str) -> Path:
    path = Path(out_dir) / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
