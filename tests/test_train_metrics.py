"""pass@k, best@k, rates, the eval table and plot."""

from __future__ import annotations

import itertools
import json
import random
from math import comb
from pathlib import Path

import pytest
from click.testing import CliRunner

from swegc.pass_at_k import pass_at_k
from swegc.train.metrics import best_at_k, is_loop, rollout_metrics
from swegc.train.toy import toy_trajectory
from tests.train_fixtures import write_run

pytestmark = pytest.mark.train


def test_pass_at_k_matches_hand_computed_values():
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)       # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(5, 2, 3) == pytest.approx(0.9)       # 1 - C(3,3)/C(5,3) = 1 - 1/10
    assert pass_at_k(3, 0, 3) == 0.0 and pass_at_k(3, 3, 1) == 1.0


def test_best_at_k_matches_hand_computed_values():
    samples = [(0.9, False), (0.8, True), (0.1, False)]
    assert best_at_k(samples, 1) == pytest.approx(1 / 3)
    assert best_at_k(samples, 2) == pytest.approx(1 / 3)  # only {0.8, 0.1} picks the resolved one
    assert best_at_k(samples, 3) == 0.0
    tied = [(0.5, True), (0.5, False), (0.2, True)]
    assert best_at_k(tied, 2) == pytest.approx((0.5 + 1.0 + 0.0) / 3)  # {a,b}: coin flip; {a,c}: a; {b,c}: b
    assert best_at_k(tied, 3) == pytest.approx(0.5)


def _brute_best(samples, k):
    total = 0.0
    subsets = list(itertools.combinations(samples, k))
    for subset in subsets:
        top = max(s for s, _ in subset)
        winners = [r for s, r in subset if s == top]
        total += sum(winners) / len(winners)
    return total / len(subsets)


def _brute_pass(n, c, k):
    items = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(items, k))
    return sum(any(s) for s in subsets) / comb(n, k)


def test_pass_and_best_at_k_agree_with_enumerating_every_subset():
    rng = random.Random(0)
    for _ in range(40):
        n = rng.randint(1, 7)
        samples = [(rng.choice([0.1, 0.5, 0.5, 0.9, rng.random()]), rng.random() < 0.4) for _ in range(n)]
        c = sum(r for _, r in samples)
        for k in range(1, n + 1):
            assert best_at_k(samples, k) == pytest.approx(_brute_best(samples, k))
            assert pass_at_k(n, c, k) == pytest.approx(_brute_pass(n, c, k))


def test_rollout_metrics_average_over_instances_and_count_loops_and_empty_patches():
    trajs = [toy_trajectory("a__b-1", f"r{i}", i == 0) for i in range(4)]
    trajs += [toy_trajectory("a__b-2", f"r{i}", i < 2, steps=2) for i in range(4)]
    stuck = toy_trajectory("a__b-2", "r9", False, steps=4)  # the same "cat" three times in a row
    trajs[-1] = stuck.__class__(**{**stuck.to_json(), "run_id": "r3", "patch": ""})
    scores = {(t.instance_id, t.run_id): (0.9 if t.run_id == "r1" else 0.1) for t in trajs}
    report = rollout_metrics(trajs, scores)
    assert report.instances == 2 and report.samples_min == 4
    assert report.resolve_rate == pytest.approx(3 / 8)
    assert report.pass_at[0] == pytest.approx((0.25 + 0.5) / 2)
    assert report.pass_at[1] == pytest.approx((0.5 + (1 - comb(2, 2) / comb(4, 2))) / 2)
    # instance 1: r1 (unresolved) scores highest; instance 2: r1 (resolved) does
    assert report.best_at[3] == pytest.approx((0.0 + 1.0) / 2)
    assert report.loop_rate == pytest.approx(1 / 8) and report.empty_patch_rate == pytest.approx(1 / 8)
    assert is_loop(toy_trajectory("a__b-3", "r0", True, steps=2)) is False


def test_eval_command_prints_the_table_and_writes_the_plot(tmp_path: Path):
    from swegc.cli import cli

    trajs = [toy_trajectory(f"a__b-{i}", f"r{j}", (i + j) % 3 == 0) for i in range(3) for j in range(4)]
    run = write_run(tmp_path / "run.jsonl", trajs)
    scores = tmp_path / "scores.jsonl"
    scores.write_text("".join(json.dumps({"instance_id": t.instance_id, "run_id": t.run_id,
                                          "score": float(t.resolved)}) + "\n" for t in trajs))
    result = CliRunner().invoke(cli, ["metrics", str(run), "--scores", str(scores), "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    assert "pass@k   best@k" in result.output
    png = tmp_path / "ev" / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    data = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert data["best_at"][0] == pytest.approx(data["pass_at"][0])  # one sample: nothing to choose
    assert data["best_at"][-1] == 1.0 and data["schema_version"] == 1  # all samples: the oracle's pick
