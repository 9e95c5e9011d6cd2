"""Typed configuration of RFT and verifier training; every field documented.

The docstring under a field is also the help of its option in `swegc train` (swegc.cli_options).

Defaults follow SWE-Gym's RFT setup (learning rate 1e-4, 5 epochs, effective batch size 8,
32k-token context). The verifier uses the same defaults unless told otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from swegc.train.errors import TrainSetupError


@dataclass(frozen=True)
class Hyper:
    """Optimisation settings shared by RFT and the verifier."""

    learning_rate: float = 1e-4
    """Peak learning rate (SWE-Gym: 1e-4)."""
    num_epochs: float = 5.0
    """Passes over the training set (SWE-Gym: 5)."""
    effective_batch_size: int = 8
    """Effective batch size: sequences per optimiser step, over all devices (SWE-Gym: 8)."""
    per_device_batch_size: int = 1
    """Sequences per device per forward pass; gradient accumulation makes up the rest."""
    max_length: int = 32768
    """Context length in tokens (SWE-Gym: 32k); longer RFT trajectories are dropped, not cut."""
    lr_scheduler: str = "cosine"
    """Learning-rate schedule, by its transformers name (cosine, linear, constant, ...)."""
    warmup_ratio: float = 0.03
    """Fraction of steps for warm-up of the learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_steps: int = -1
    """Stop after this many optimiser steps (-1: run all epochs); for smoke tests and benchmarks."""
    seed: int = 0
    """Random seed of the data order and of the initialisation of new weights."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """bf16, fp32, or auto: bf16 on a GPU that supports it, else fp32."""
    gradient_checkpointing: bool | None = None
    """Recompute activations to save memory (default: on when a GPU is used)."""
    lora: bool = False
    """Train LoRA adapters (peft) or all weights."""
    lora_r: int = 64
    """LoRA rank."""
    lora_alpha: int = 128
    """LoRA alpha, the scaling numerator (scale = alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA branch."""
    lora_target_modules: str = "all-linear"
    """Modules that get adapters: "all-linear" or comma-separated module names."""
    merge_lora: bool = True
    """With --lora, also write merged full weights to OUT (the adapter goes to OUT/adapter)."""
    logging_steps: int = 1
    """Log the loss every N optimiser steps."""
    attn_implementation: str | None = None
    """Attention kernel passed to from_pretrained: sdpa, flash_attention_2 or eager (default:
    the model's)."""

    def gradient_accumulation(self, world_size: int = 1) -> int:
        per_step = self.per_device_batch_size * world_size
        if self.effective_batch_size % per_step:
            raise TrainSetupError(f"effective batch size {self.effective_batch_size} is not a multiple of "
                                  f"per-device batch size x devices ({per_step}); change one of them")
        return self.effective_batch_size // per_step

    def check(self) -> None:
        problems = []
        if self.learning_rate <= 0:
            problems.append("--lr must be positive")
        if self.num_epochs <= 0:
            problems.append("--epochs must be positive")
        if self.max_length < 16:
            problems.append("--max-length must be at least 16 tokens")
        if self.precision not in ("auto", "bf16", "fp32"):
            problems.append("--precision must be auto, bf16 or fp32")
        if self.effective_batch_size < 1 or self.per_device_batch_size < 1:
            problems.append("batch sizes must be at least 1")
        if problems:
            raise TrainSetupError("; ".join(problems))
        self.gradient_accumulation()


@dataclass(frozen=True)
class RFTConfig:
    """``swegc train rft``: capped rejection-sampling fine-tuning."""

    base_model: str
    """Hugging Face model id or local folder of the policy to fine-tune."""
    out_dir: str
    """Folder for the checkpoint, its tokenizer, model card and selection report."""
    cap: int = 2
    """Most trajectories kept per instance (SWE-Gym caps at 2)."""
    chat_template: str | None = None
    """Jinja chat template file to train with, with {% generation %} markers (default: resolved
    automatically)."""
    include_suspicious: bool = False
    """Also train on resolved trajectories whose patch looks like reward hacking (the runs'
    suspicious column); left out by default."""
    hyper: Hyper = field(default_factory=Hyper)
    """Optimisation settings."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerifierConfig:
    """``swegc train verifier``: a YES/NO outcome verifier trained as prompt-completion SFT."""

    base_model: str
    """Hugging Face model id or local folder of the verifier model to fine-tune."""
    out_dir: str
    """Folder for the verifier checkpoint, swegc_verifier.json and model card."""
    yes: str = "YES"
    """Answer text for a resolved trajectory; its first token must differ from the other answer's."""
    no: str = "NO"
    """Answer text for an unresolved trajectory."""
    balance: bool = True
    """Downsample the larger class so YES and NO examples are equally many."""
    on_policy_ratio: float | None = None
    """Share of on-policy examples in each class (default: as the runs give them)."""
    statements: str | None = None
    """Instance dataset with problem statements (default: each trajectory's first user message)."""
    chat_template: str | None = None
    """Jinja chat template file for the verifier prompt (default: the tokenizer's own, plain text
    if it has none)."""
    hyper: Hyper = field(default_factory=Hyper)
    """Optimisation settings."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
