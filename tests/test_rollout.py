"""`swegc rollout` on the compiled example: gold, empty, replay, resume after kill -9, evaluate."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swegc.dataset import load_rows

pytestmark = pytest.mark.docker

SWEGC = [sys.executable, "-m", "swegc.cli"]
VALID = {"example__calc-2", "example__calc-8", "example__calc-10"}


def rollout(dataset: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, "rollout", str(dataset), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=1200)


def trajectories(out: Path) -> list[dict]:
    from swegc.dataset import read_dataset

    return read_dataset(out, "train")


@pytest.fixture(scope="module")
def gold_runs(example_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("gold-runs")
    result = rollout(example_build, out, "--policy", "gold", "--jobs", "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result


def test_the_gold_policy_resolves_every_valid_example_instance_through_the_tools(example_build,
                                                                                 gold_runs):
    out, result = gold_runs
    rows = trajectories(out)
    rows_by_id = load_rows(example_build)
    assert {r["instance_id"] for r in rows} == VALID
    for row in rows:
        assert row["resolved"] is True, (row["instance_id"], row["test_report"], row["error"])
        assert row["exit_status"] == "submitted"
        assert row["grade"] == "FULL"
        assert set(row["test_report"].values()) == {"PASSED"}
        tool_names = {call["function"]["name"] for m in row["messages"] if m["role"] == "assistant"
                      for call in m.get("tool_calls") or []}
        assert "submit" in tool_names
        assert row["image"] == rows_by_id[row["instance_id"]]["image"]  # the pinned reference
    assert "3 resolved (100.0%)" in result.stdout


def test_the_runs_are_a_dataset_that_datasets_and_swegc_train_read_as_they_are(gold_runs):
    out, _ = gold_runs
    from datasets import load_dataset

    from swegc.train.runs import read_runs

    ds = load_dataset(str(out), split="train")
    assert len(ds) == 3 and json.loads(ds[0]["messages"])[0]["role"] == "system"
    located = read_runs([str(out)])
    assert {item.trajectory.instance_id for item in located} == VALID
    assert all(item.trajectory.resolved for item in located)


def test_a_rerun_of_finished_rollouts_runs_nothing(example_build, gold_runs):
    out, _ = gold_runs
    again = rollout(example_build, out, "--policy", "gold")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "[rollout " not in again.stdout
    assert "3 of 3 rollouts already finished" in again.stdout


def test_replay_reproduces_the_recorded_patch_exactly(example_build, gold_runs, tmp_path):
    recorded, _ = gold_runs
    out = tmp_path / "replayed"
    result = rollout(example_build, out, "--policy", "replay", "--replay", str(recorded))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    before = {r["instance_id"]: r["patch"] for r in trajectories(recorded)}
    after = {r["instance_id"]: r for r in trajectories(out)}
    assert {k: v["patch"] for k, v in after.items()} == before
    assert all(r["resolved"] for r in after.values())


def test_evaluate_agrees_with_rollout_on_the_same_patches(example_build, gold_runs, tmp_path):
    recorded, _ = gold_runs
    predictions = tmp_path / "preds.jsonl"
    rows = trajectories(recorded)
    predictions.write_text("".join(json.dumps({"instance_id": r["instance_id"],
                                               "model_name_or_path": "gold-rollout",
                                               "model_patch": r["patch"]}) + "\n" for r in rows))
    out = tmp_path / "eval"
    result = subprocess.run([*SWEGC, "evaluate", str(predictions), "--dataset", str(example_build),
                             "--out", str(out)], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert sorted(report["resolved_ids"]) == sorted(r["instance_id"] for r in rows if r["resolved"])


def _finished(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as conn:
            return conn.execute(
                "SELECT count(*) FROM results WHERE kind='trajectory'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_rollout_killed_midway_resumes_without_redoing_finished_samples(example_build, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([*SWEGC, "rollout", str(example_build), "--out", str(out),
                             "--policy", "gold", "--samples", "2", "--jobs", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while _finished(out / "store.sqlite") < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, "rollout ended before it could be interrupted"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _finished(out / "store.sqlite")
    assert 2 <= done < 6
    resumed = rollout(example_build, out, "--policy", "gold", "--samples", "2", "--jobs", "1")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert resumed.stdout.count("[rollout ") == 6 - done  # only what was left
    rows = trajectories(out)
    assert len(rows) == 6 and all(r["resolved"] for r in rows)
    assert sorted((r["instance_id"], r["sample"]) for r in rows) == \
        sorted((iid, s) for iid in VALID for s in (0, 1))


def test_a_fork_bomb_ends_its_rollout_as_error_at_once_and_the_error_is_kept(example_build,
                                                                             tmp_path):
    from swegc.dataset import load_instances
    from swegc.runtime.policies import PolicyOptions
    from swegc.runtime.policies.scripted import call
    from swegc.runtime.rollout import RolloutOptions, Rollouts

    script = (call("bash", command=":(){ :|:& };:"), call("bash", command="ls"), call("submit"))
    options = RolloutOptions(out=tmp_path / "bomb", policy="scripted",
                             policy_options=PolicyOptions(script=script),
                             only=("example__calc-2",), jobs=1)
    instances = list(load_instances(example_build, require=("image",)).values())
    lines: list[str] = []
    summary = Rollouts(options, echo=lines.append).run(instances)  # command timeout: 180 s
    (row,) = trajectories(tmp_path / "bomb")
    assert row["exit_status"] == "error" and row["n_steps"] == 1 and row["patch"] == ""
    assert "reached the process limit (pids=1024" in row["error"]
    assert "reached the process limit" in row["messages"][-1]["content"]
    assert row["wall_time_s"] < 30 and not row["resolved"] and not summary.errors
    assert any("example__calc-2 sample 0: error, empty patch" in line for line in lines)
    again = Rollouts(options, echo=lines.append).run(instances)  # an agent's error is its result
    assert again.ran == 0 and again.reused == 1


def test_a_rollout_whose_image_is_gone_says_so_and_how_to_get_it_back_not_to_retry(example_build,
                                                                                  tmp_path):
    from swegc.dataset import write_jsonl

    row = load_rows(example_build)["example__calc-2"]
    dataset = tmp_path / "rows.jsonl"
    write_jsonl(dataset, [{**row, "image": "swegc-test-inst/example__calc-2:gone"}])
    result = rollout(dataset, tmp_path / "runs", "--policy", "gold")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert ("example__calc-2 sample 0: error: image swegc-test-inst/example__calc-2:gone is gone"
            in result.stdout + result.stderr)
    assert "run the same command again to retry" not in result.stderr
    assert ("1 rollout(s) name an image that is gone; running the same command again cannot "
            "help: a compile of the same specs into the same build folder") in result.stderr
