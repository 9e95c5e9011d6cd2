"""The YES/NO verifier: example choice, answer-token checks, training, reranking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the train tests need torch (pip install 'swegc[train]')")
pytest.importorskip("trl", reason="the train tests need trl (pip install 'swegc[train]')")

from swegc.train.config import Hyper, VerifierConfig  # noqa: E402
from swegc.train.errors import VerifierError  # noqa: E402
from swegc.train.verifier_prompt import verifier_prompt  # noqa: E402
from swegc.train.runs import Located  # noqa: E402
from swegc.train.scoring import VerifierScorer  # noqa: E402
from swegc.train.sft import load_tokenizer  # noqa: E402
from swegc.train.toy import toy_trajectory  # noqa: E402
from swegc.train.verifier import check_answers, choose_examples, run_verifier  # noqa: E402
from tests.train_fixtures import build_tiny_base, toy_runs, write_run  # noqa: E402

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_base(tmp_path_factory.mktemp("tiny"), toy_runs()))


def _pool(resolved: int, unresolved: int, source: str = "off") -> list[Located]:
    out = [toy_trajectory(f"o__r-{i}", f"{source}{i}", True) for i in range(resolved)]
    out += [toy_trajectory(f"o__r-{i}", f"{source}u{i}", False) for i in range(unresolved)]
    return [Located(f"{source}:{i}", source, t) for i, t in enumerate(out)]


def test_examples_are_balanced_and_mix_on_policy_runs_as_asked():
    pool = _pool(10, 4, "off") + _pool(6, 8, "on")
    natural = choose_examples(pool, {"on"}, balance=True, on_policy_ratio=None, seed=0)
    assert sum(e.label for e in natural) == sum(not e.label for e in natural) == 12
    mixed = choose_examples(pool, {"on"}, balance=True, on_policy_ratio=0.5, seed=0)
    for label in (True, False):
        cls = [e for e in mixed if e.label == label]
        assert len(cls) == 8 and sum(e.on_policy for e in cls) == 4
    assert choose_examples(pool, {"on"}, True, 0.5, seed=0) == mixed  # deterministic
    unbalanced = choose_examples(pool, {"on"}, balance=False, on_policy_ratio=None, seed=0)
    assert len(unbalanced) == 28


def test_answer_tokens_are_derived_and_checked_not_assumed(base: str):
    tokenizer = load_tokenizer(base)
    prompt = verifier_prompt(tokenizer, toy_runs()[0], tokenizer.chat_template, 1000)
    yes_id, no_id = check_answers(tokenizer, prompt.text, prompt.ids, "YES", "NO")
    assert tokenizer.convert_ids_to_tokens([yes_id, no_id]) == ["YES", "NO"]
    with pytest.raises(VerifierError, match="start with the same token"):
        check_answers(tokenizer, prompt.text, prompt.ids, "YES", "YES please")
    frame = prompt.text + "Y"  # "Y" + "ES" tokenizes as the single token "YES"
    with pytest.raises(VerifierError, match="merges with the end of the verifier prompt"):
        check_answers(tokenizer, frame, tokenizer(frame)["input_ids"], "ES", "NO")


def test_a_long_trajectory_is_cut_in_the_middle_to_fit_the_verifier_prompt(base: str):
    tokenizer = load_tokenizer(base)
    long = toy_trajectory("o__r-1", "long", True, steps=3, filler=400)
    prompt = verifier_prompt(tokenizer, long, tokenizer.chat_template, 600)
    assert len(prompt.ids) <= 600 and prompt.truncated
    assert "tokens left out" in prompt.text and prompt.text.endswith("<|im_start|>assistant\n")
    assert "+    return value + 1" in prompt.text  # the diff survives


def test_a_verifier_trained_on_a_separable_set_ranks_resolved_above_unresolved(base: str, tmp_path: Path):
    from click.testing import CliRunner

    from swegc.cli import cli

    trajs = toy_runs(instances=6, samples=2)
    located = [Located(f"mem:{i}", "mem", t) for i, t in enumerate(trajs)]
    config = VerifierConfig(base_model=base, out_dir=str(tmp_path / "ver"),
                            hyper=Hyper(max_length=1024, learning_rate=3e-3, num_epochs=12, effective_batch_size=2,
                                        warmup_ratio=0.0, logging_steps=100))
    examples, result = run_verifier(located, config, set(), None, echo=lambda _: None)
    assert len(examples) == 12 and result.steps == 72
    meta = json.loads((tmp_path / "ver" / "swegc_verifier.json").read_text())
    assert meta["yes"] == "YES" and meta["yes_token_id"] != meta["no_token_id"]

    verifier = VerifierScorer.load(str(tmp_path / "ver"), device="cpu")
    scores = verifier.score(trajs, batch_size=3)
    resolved = [s for s, t in zip(scores, trajs, strict=True) if t.resolved]
    failed = [s for s, t in zip(scores, trajs, strict=True) if not t.resolved]
    assert min(resolved) > max(failed), (resolved, failed)
    assert verifier.score(trajs[:1], batch_size=1)[0] == pytest.approx(scores[0], abs=1e-4)  # padding-free

    run = write_run(tmp_path / "run.jsonl", trajs)
    out = tmp_path / "rr"
    result = CliRunner().invoke(cli, ["rerank", str(run), "--verifier", str(tmp_path / "ver"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "6 instances: picked trajectories resolve 100.0%" in result.output
    best = [json.loads(line) for line in (out / "best.jsonl").read_text().splitlines()]
    assert len(best) == 6 and all(row["resolved"] for row in best)
    assert len((out / "scores.jsonl").read_text().splitlines()) == 12


def test_a_verifier_whose_tokenizer_changed_is_refused(base: str, tmp_path: Path):
    folder = tmp_path / "ver"
    folder.mkdir()
    with pytest.raises(VerifierError, match="not a swegc verifier"):
        VerifierScorer.load(str(folder))
