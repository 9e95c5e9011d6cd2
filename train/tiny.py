"""A tiny Qwen2-architecture model and a byte-level BPE tokenizer, built locally.

Tests and CPU benchmarks use these so that nothing is downloaded: the tokenizer is trained
with the ``tokenizers`` library on texts the caller gives (plus the chat markup), carries
swegc's training chat template, and the model is a randomly initialised 2-layer Qwen2 with a
hidden size of 64.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.train.chat import builtin_chat_template

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Words the chat template, the verifier prompt and tool calls always produce: trained in so that
# they are short in tokens (and YES / NO are single tokens, which the verifier checks).
_SEED_TEXTS = (
    "system user assistant tool YES NO <tool_call> </tool_call> <tool_response> </tool_response>",
    '{"name": "bash", "arguments": {"command": "ls"}} diff --git a/ b/ @@ -1 +1 @@',
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
)


@dataclass(frozen=True)
class TinySize:
    """Shape of the tiny model."""

    hidden_size: int = 64
    """Width of the residual stream."""
    intermediate_size: int = 128
    """Width of the MLP."""
    num_hidden_layers: int = 2
    """Number of decoder layers."""
    num_attention_heads: int = 4
    """Query heads per layer."""
    num_key_value_heads: int = 2
    """Key/value heads per layer (grouped-query attention, as in Qwen2)."""
    max_position_embeddings: int = 4096
    """Longest sequence the rotary embedding is configured for."""


def build_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``texts`` with ChatML specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    corpus = [*_SEED_TEXTS * 20, *texts]
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", bos_token=None,
                                   additional_special_tokens=["<|im_start|>"])
    fast.chat_template = builtin_chat_template()
    return fast


def build_model(tokenizer: Any, size: TinySize | None = None, seed: int = 0) -> Any:
    """A randomly initialised ``Qwen2ForCausalLM`` sized by ``size`` for ``tokenizer``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    size = size or TinySize()
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=size.hidden_size,
                         intermediate_size=size.intermediate_size,
                         num_hidden_layers=size.num_hidden_layers,
                         num_attention_heads=size.num_attention_heads,
                         num_key_value_heads=size.num_key_value_heads,
                         max_position_embeddings=size.max_position_embeddings,
                         tie_word_embeddings=True,
                         pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(config)


def save_tiny(out_dir: str | Path, texts: Iterable[str], size: TinySize | None = None,
              vocab_size: int = 1024, seed: int = 0) -> Path:
    """Build a tiny model and tokenizer and save both to ``out_dir`` (a ``--base-model`` path)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(texts, vocab_size=vocab_size)
    model = build_model(tokenizer, size=size, seed=seed)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m swegc.train.tiny OUT [TEXT_FILE ...]``: save a tiny model to try the loop on.

    The tokenizer is trained on the given text files (trajectories, sources), else on the
    built-in seed texts; the weights are random, so the model emits near-garbage: it is for
    trying serving, rollouts and training end to end on a CPU, not for solving anything.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m swegc.train.tiny", description=main.__doc__)
    parser.add_argument("out")
    parser.add_argument("texts", nargs="*", help="text files to train the tokenizer on")
    args = parser.parse_args(argv)
    texts = [Path(p).read_text(encoding="utf-8", errors="replace") for p in args.texts]
    print(save_tiny(args.out, texts or list(_SEED_TEXTS)))


if __name__ == "__main__":
    main()
