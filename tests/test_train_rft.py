"""RFT on a tiny Qwen2 model: labels cover assistant turns only, and training lowers the loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the train tests need torch (pip install 'swegc[train]')")
pytest.importorskip("trl", reason="the train tests need trl (pip install 'swegc[train]')")

from swegc.train.config import Hyper, RFTConfig  # noqa: E402
from swegc.train.rft import prepare, run_rft  # noqa: E402
from swegc.train.runs import Located, read_runs  # noqa: E402
from swegc.train.sft import load_model, load_tokenizer, make_trainer  # noqa: E402
from tests.train_fixtures import build_tiny_base, toy_runs, write_run  # noqa: E402

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_base(tmp_path_factory.mktemp("tiny"), toy_runs()))


def _located() -> list[Located]:
    return [Located(f"mem:{i}", "mem", t) for i, t in enumerate(toy_runs())]


def _hyper(**kw) -> Hyper:
    defaults = dict(max_length=1024, effective_batch_size=2, num_epochs=1, warmup_ratio=0.0, logging_steps=50)
    return Hyper(**{**defaults, **kw})


def test_only_the_assistants_tokens_carry_loss(base: str, tmp_path: Path):
    tokenizer = load_tokenizer(base)
    config = RFTConfig(base_model=base, out_dir=str(tmp_path), hyper=_hyper())
    data = prepare(_located(), config, tokenizer)
    trainer = make_trainer(load_model(base, config.hyper), tokenizer, data.examples, config.hyper,
                           str(tmp_path), completion_only=False)
    traj = data.selection.kept[0].trajectory
    row = next(r for r in trainer.train_dataset if r["input_ids"] == data.examples[0]["input_ids"])
    trained = tokenizer.decode([t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != -100])
    untrained = tokenizer.decode([t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab == -100])
    calls = [m for m in traj.messages if m["role"] == "assistant" and m.get("tool_calls")]
    expected = "".join(
        "<tool_call>\n" + json.dumps({"name": "bash", "arguments": json.loads(m["tool_calls"][0]["function"]["arguments"])})
        + "\n</tool_call><|im_end|>" for m in calls) + traj.messages[-1]["content"] + "<|im_end|>"
    assert trained == expected
    assert "Fix the bug" in untrained and "<tool_response>" in untrained and "# Tools" in untrained
    assert "<|im_start|>assistant" not in trained and "<tool_response>" not in trained


def test_a_few_rft_steps_lower_the_loss_on_the_training_set(base: str, tmp_path: Path):
    import torch

    tokenizer = load_tokenizer(base)
    config = RFTConfig(base_model=base, out_dir=str(tmp_path / "out"), hyper=_hyper(learning_rate=3e-3, num_epochs=4))
    data = prepare(_located(), config, tokenizer)

    def loss(model) -> float:
        model.eval()
        total = 0.0
        with torch.no_grad():
            for ex in data.examples:
                ids = torch.tensor([ex["input_ids"]])
                labels = torch.tensor([[t if m else -100 for t, m in zip(ex["input_ids"], ex["assistant_masks"])]])
                total += float(model(input_ids=ids.to(model.device), labels=labels.to(model.device)).loss)
        return total / len(data.examples)

    before = loss(load_model(base, config.hyper))
    _, result = run_rft(_located(), config, echo=lambda _: None)
    after = loss(load_model(config.out_dir, config.hyper))
    assert after < before - 0.5, (before, after)
    assert result.steps == 12 and result.tokens_per_second > 0  # 6 kept x 4 epochs / batch 2
    out = Path(config.out_dir)
    meta = json.loads((out / "swegc_train.json").read_text())
    assert meta["schema_version"] == 1 and meta["kind"] == "rft" and meta["selection"] == {"kept": 6, "unresolved": 6}
    card = (out / "README.md").read_text()
    assert card.startswith("---\nbase_model: ") and "vllm serve" in card
    decisions = [json.loads(line) for line in (out / "selection.jsonl").read_text().splitlines()]
    assert len(decisions) == 12 and {d["decision"] for d in decisions} == {"kept", "unresolved"}


def test_rft_command_with_lora_writes_the_adapter_and_merged_weights(base: str, tmp_path: Path):
    from click.testing import CliRunner

    from swegc.cli import cli

    run = write_run(tmp_path / "run.jsonl", toy_runs())
    out = tmp_path / "lora"
    result = CliRunner().invoke(cli, ["train", "rft", str(run), "--base-model", base, "--out", str(out),
                                      "--cap", "1", "--lora", "--lora-r", "4", "--lora-alpha", "8",
                                      "--max-steps", "2", "--batch-size", "2", "--max-length", "1024"])
    assert result.exit_code == 0, result.output
    assert "kept 4 of 12 trajectories (4 of 4 instances); 6 unresolved; 2 over cap" in result.output
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert "library_name: transformers" in (out / "README.md").read_text()
    assert len(read_runs([str(run)])) == 12


def test_trajectories_longer_than_the_context_are_dropped_not_truncated(base: str, tmp_path: Path):
    tokenizer = load_tokenizer(base)
    lengths = sorted(len(e["input_ids"]) for e in prepare(
        _located(), RFTConfig(base_model=base, out_dir=str(tmp_path), hyper=_hyper()), tokenizer).examples)
    limit = lengths[len(lengths) // 2]
    data = prepare(_located(), RFTConfig(base_model=base, out_dir=str(tmp_path), hyper=_hyper(max_length=limit)),
                   tokenizer)
    assert data.examples and all(len(e["input_ids"]) <= limit for e in data.examples)
    dropped = [d for d in data.selection.decisions if d.decision == "over_context_length"]
    assert dropped and all(d.length > limit for d in dropped)
