"""``swegc publish`` of trajectory datasets (RUNS) and of checkpoints written by ``swegc train``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from swegc.testing.hub_standin import HubStandin
from swegc.trajectory_dataset import write_trajectories
from tests.train_fixtures import toy_runs

TOKEN = "hf_" + "m0d3l" * 7
SWEGC = [sys.executable, "-m", "swegc.cli"]


def publish(hub: HubStandin, home: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, "publish", str(folder), *args], env=hub.client_env(home),
                          capture_output=True, text=True, check=False, timeout=900)


def in_client(hub: HubStandin, home: Path, code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], env=hub.client_env(home), capture_output=True,
                            text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()[-1]


def test_published_runs_load_back_with_a_card_of_resolve_rate_and_pass_at_k(tmp_path):
    trajectories = toy_runs(instances=4, samples=3)  # per instance 2 of 3 or 1 of 3 resolved
    runs = tmp_path / "runs"
    write_trajectories(runs, trajectories, pretty_name="toy", description="toy runs")
    with HubStandin(token=TOKEN) as hub:
        result = publish(hub, tmp_path / "home", runs, "--repo", "acme/calc-runs", "--dataset", "acme/calc@v1")
        assert result.returncode == 0, result.stderr[-3000:]
        rows = json.loads(in_client(hub, tmp_path / "home", "import json, datasets\n"
                                    "print(json.dumps(datasets.load_dataset('acme/calc-runs', split='train').to_list()))"))
        card = hub.repo("acme/calc-runs").files["README.md"].data.decode()
    by_id = {(t.instance_id, t.run_id): t for t in trajectories}
    assert sorted((r["instance_id"], r["run_id"]) for r in rows) == sorted(by_id)
    assert all(json.loads(r["messages"]) == by_id[r["instance_id"], r["run_id"]].messages for r in rows)
    resolved = sum(t.resolved for t in trajectories)
    assert f"| resolve rate | {resolved / len(trajectories):.2%} |" in card
    # pass@1 is the mean per-instance resolve rate; pass@3 is 1 when an instance has any resolved sample.
    assert "| 1 | 50.00% |" in card and "| 3 | 100.00% |" in card
    assert "The rollouts ran on `acme/calc@v1`" in card and "## Policy and sampling" in card
    assert TOKEN not in card + result.stdout + result.stderr


@pytest.mark.train
def test_a_published_checkpoint_loads_with_from_pretrained_and_its_card_names_data_and_capping(tmp_path):
    pytest.importorskip("trl", reason="needs the train extra")
    from swegc.train.config import Hyper, RFTConfig
    from swegc.train.rft import run_rft
    from swegc.train.runs import Located
    from tests.train_fixtures import build_tiny_base

    base = build_tiny_base(tmp_path / "tiny", toy_runs())
    out = tmp_path / "checkpoint"
    hyper = Hyper(max_length=1024, effective_batch_size=2, num_epochs=1, warmup_ratio=0.0, max_steps=2)
    run_rft([Located(f"mem:{i}", "mem", t) for i, t in enumerate(toy_runs())],
            RFTConfig(base_model=str(base), out_dir=str(out), hyper=hyper), echo=lambda _: None)
    evaluation = tmp_path / "eval.json"
    evaluation.write_text(json.dumps({"schema_version": 1, "trajectories": 12, "instances": 4,
                                      "resolve_rate": 0.5, "pass_at": [0.5, 0.83, 1.0]}))
    with HubStandin(token=TOKEN) as hub:
        home = tmp_path / "home"
        result = publish(hub, home, out, "--repo", "acme/tiny-rft", "--dataset", "acme/calc-runs@v1",
                         "--eval", str(evaluation))
        assert result.returncode == 0, result.stderr[-3000:]
        loaded = in_client(hub, home, "import torch\nfrom transformers import AutoModelForCausalLM\n"
                                      "m = AutoModelForCausalLM.from_pretrained('acme/tiny-rft')\n"
                                      "print(type(m).__name__, float(sum(p.detach().sum() for p in m.parameters())))")
        repo = hub.repo("acme/tiny-rft", "model")
        card = repo.files["README.md"].data.decode()
        assert set(repo.tags) == {"v1"}
    from transformers import AutoModelForCausalLM

    local = AutoModelForCausalLM.from_pretrained(out)
    name, total = loaded.split()
    assert name == "Qwen2ForCausalLM"
    assert float(total) == pytest.approx(float(sum(p.detach().sum() for p in local.parameters())), rel=1e-6)
    assert "datasets:\n- acme/calc-runs\n" in card and "Trajectories: `acme/calc-runs@v1`." in card
    assert "| kept | 6 |" in card and "| unresolved | 6 |" in card  # capping statistics
    assert "| learning_rate |" in card and "| resolve_rate | 50.00% |" in card
    assert "trainer/" not in "".join(repo.files)
    assert TOKEN not in card + result.stdout + result.stderr


@pytest.mark.train
def test_train_rft_push_to_hub_publishes_the_checkpoint_it_wrote(tmp_path):
    pytest.importorskip("trl", reason="needs the train extra")
    from tests.train_fixtures import build_tiny_base, write_run

    base = build_tiny_base(tmp_path / "tiny", toy_runs())
    run = write_run(tmp_path / "runs" / "toy.jsonl", toy_runs())
    with HubStandin(token=TOKEN) as hub:
        result = subprocess.run([*SWEGC, "train", "rft", str(run), "--base-model", str(base), "--out",
                                 str(tmp_path / "out"), "--max-steps", "1", "--batch-size", "2",
                                 "--max-length", "1024", "--push-to-hub", "acme/pushed"],
                                env=hub.client_env(tmp_path / "home"), capture_output=True, text=True,
                                check=False, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        repo = hub.repo("acme/pushed", "model")
        assert repo is not None and "model.safetensors" in repo.files and set(repo.tags) == {"v1"}
        assert "local runs toy.jsonl" in repo.files["README.md"].data.decode()
        assert str(tmp_path) not in repo.files["README.md"].data.decode()
    assert TOKEN not in result.stdout + result.stderr


def test_train_push_to_hub_without_a_token_fails_before_training(tmp_path):
    run = tmp_path / "runs.jsonl"
    run.write_text("")
    with HubStandin() as hub:
        result = subprocess.run([*SWEGC, "train", "rft", str(run), "--base-model", "nowhere", "--out",
                                 str(tmp_path / "out"), "--push-to-hub", "acme/pushed"],
                                env=hub.client_env(tmp_path / "home"), capture_output=True, text=True,
                                check=False, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no Hugging Face token" in result.stderr
    assert not (tmp_path / "out").exists()
