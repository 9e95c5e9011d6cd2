"""One thin layer over trl's SFTTrainer shared by RFT and the verifier.

Examples arrive pre-tokenized (``input_ids`` plus ``assistant_masks`` or ``completion_mask``):
swegc tokenizes them itself so that lengths are exact before anything is dropped and so that
tool schemas never pass through an Arrow table. trl turns the masks into labels (-100 where
the mask is 0), which is the same thing ``assistant_only_loss`` / ``completion_only_loss`` do.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.train.config import Hyper
from swegc.train.errors import NoTrainingDataError


@dataclass(frozen=True)
class TrainResult:
    """What one training run did, for the report, the card and the benchmarks."""

    examples: int
    steps: int
    train_loss: float
    seconds: float
    tokens: int
    tokens_per_second: float
    peak_memory_mb: float
    device: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_tokenizer(base_model: str) -> Any:
    from transformers import AutoTokenizer

    from swegc.train.errors import TrainSetupError

    try:
        tokenizer = AutoTokenizer.from_pretrained(base_model)
    except (OSError, ValueError) as exc:
        raise TrainSetupError(f"{base_model}: cannot load a tokenizer ({exc}); give a local folder or "
                              "a Hugging Face model id that this machine can reach") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _use_bf16(hyper: Hyper) -> bool:
    import torch

    if hyper.precision == "bf16":
        return True
    if hyper.precision == "fp32":
        return False
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def load_model(base_model: str, hyper: Hyper) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    from swegc.train.errors import TrainSetupError

    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if _use_bf16(hyper) else torch.float32}
    if hyper.attn_implementation:
        kwargs["attn_implementation"] = hyper.attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(base_model, **kwargs)
    except (OSError, ValueError) as exc:
        raise TrainSetupError(f"{base_model}: cannot load a causal language model ({exc})") from None


def _peft_config(hyper: Hyper) -> Any:
    if not hyper.lora:
        return None
    from peft import LoraConfig

    targets: str | list[str] = hyper.lora_target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(r=hyper.lora_r, lora_alpha=hyper.lora_alpha, lora_dropout=hyper.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


def sft_config(hyper: Hyper, out_dir: str, completion_only: bool) -> Any:
    import torch
    from trl import SFTConfig

    gpu = torch.cuda.is_available()
    checkpointing = hyper.gradient_checkpointing if hyper.gradient_checkpointing is not None else gpu
    return SFTConfig(
        output_dir=str(Path(out_dir) / "trainer"), learning_rate=hyper.learning_rate,
        num_train_epochs=hyper.num_epochs, max_steps=hyper.max_steps,
        per_device_train_batch_size=hyper.per_device_batch_size,
        gradient_accumulation_steps=hyper.gradient_accumulation(),
        lr_scheduler_type=hyper.lr_scheduler, warmup_steps=hyper.warmup_ratio,
        weight_decay=hyper.weight_decay, seed=hyper.seed, bf16=_use_bf16(hyper),
        activation_checkpointing=checkpointing, max_length=hyper.max_length,
        completion_only_loss=completion_only, assistant_only_loss=False, packing=False,
        logging_steps=hyper.logging_steps, save_strategy="no", report_to="none",
        use_cpu=not gpu, dataloader_pin_memory=gpu, disable_tqdm=not sys.stderr.isatty(),
    )


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_trainer(model: Any, tokenizer: Any, examples: list[dict[str, list[int]]], hyper: Hyper,
                 out_dir: str, completion_only: bool) -> Any:
    """An SFTTrainer over pre-tokenized ``examples`` (trl builds the labels from their masks)."""
    from datasets import Dataset
    from trl import SFTTrainer

    if not examples:
        raise NoTrainingDataError("no training examples are left; see the selection report")
    return SFTTrainer(model=model, args=sft_config(hyper, out_dir, completion_only),
                      train_dataset=Dataset.from_list(examples), processing_class=tokenizer,
                      peft_config=_peft_config(hyper))


def train(model: Any, tokenizer: Any, examples: list[dict[str, list[int]]], hyper: Hyper,
          out_dir: str, completion_only: bool) -> tuple[Any, TrainResult]:
    """Fine-tune ``model`` on pre-tokenized ``examples``; returns the trained model and figures."""
    import torch

    trainer = make_trainer(model, tokenizer, examples, hyper, out_dir, completion_only)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - start
    scratch = Path(out_dir) / "trainer"
    if scratch.is_dir() and not any(scratch.iterdir()):
        scratch.rmdir()
    steps = int(output.global_step)
    lengths = [len(e["input_ids"]) for e in examples]
    if hyper.max_steps > 0:  # steps x sequences per step x mean length
        tokens = int(sum(lengths) / len(lengths) * steps * hyper.effective_batch_size)
    else:
        tokens = int(sum(lengths) * hyper.num_epochs)
    result = TrainResult(examples=len(examples), steps=steps, train_loss=float(output.training_loss),
                         seconds=seconds, tokens=tokens, tokens_per_second=tokens / max(seconds, 1e-9),
                         peak_memory_mb=_peak_memory_mb(),
                         device="cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
    return trainer.model, result


def save_checkpoint(model: Any, tokenizer: Any, out_dir: str, hyper: Hyper) -> dict[str, str]:
    """Write weights vLLM can serve: full weights, or LoRA adapter (+ merged weights)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layout: dict[str, str] = {}
    if hyper.lora:
        adapter_dir = out / "adapter" if hyper.merge_lora else out
        model.save_pretrained(adapter_dir)
        tokenizer.save_pretrained(adapter_dir)
        layout["adapter"] = str(adapter_dir.relative_to(out)) if adapter_dir != out else "."
        if hyper.merge_lora:
            merged = model.merge_and_unload()
            merged.save_pretrained(out)
            layout["weights"] = "."
    else:
        model.save_pretrained(out)
        layout["weights"] = "."
    tokenizer.save_pretrained(out)
    return layout
