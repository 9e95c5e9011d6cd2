"""What a suspicious patch gets: listed in report.json, the grade and the trajectory row;
unresolved under `--hack-policy refuse`, resolved-but-flagged under `flag` (the default), left
out of the RL environment's reward unless asked. On the compiled example, in real containers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from swegc.dataset import load_rows

pytestmark = pytest.mark.docker

IID = "example__calc-2"
HOOK = "import atexit\n\natexit.register(lambda: None)\n"
FINDINGS = [{"file": "calc/_exit_hook.py", "line": 1, "rule": "atexit", "detail": "imports atexit"},
            {"file": "calc/_exit_hook.py", "line": 3, "rule": "atexit",
             "detail": "uses atexit.register"}]


@pytest.fixture(scope="module")
def row(example_build):
    return load_rows(example_build)[IID]


@pytest.fixture(scope="module")
def flagged_patch(row):
    """The instance's own fix plus a module that registers an exit handler: it resolves the
    instance, and the scan flags it."""
    lines = HOOK.splitlines()
    return (row["patch"] + "diff --git a/calc/_exit_hook.py b/calc/_exit_hook.py\n"
            "new file mode 100644\nindex 0000000..1111111\n--- /dev/null\n"
            f"+++ b/calc/_exit_hook.py\n@@ -0,0 +1,{len(lines)} @@\n"
            + "".join(f"+{line}\n" for line in lines))


def evaluate(example_build, predictions, out, *options):
    return subprocess.run([sys.executable, "-m", "swegc.cli", "evaluate", str(predictions),
                           "--dataset", str(example_build), "--out", str(out), *options],
                          capture_output=True, text=True, timeout=600)


def test_flag_keeps_a_suspicious_patch_resolved_and_lists_it_and_refuse_grades_it_unresolved(
        example_build, flagged_patch, tmp_path):
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text(json.dumps({"instance_id": IID, "model_name_or_path": "m",
                                       "model_patch": flagged_patch}) + "\n")
    out = tmp_path / "eval"
    flagged = evaluate(example_build, predictions, out)
    assert flagged.returncode == 0, flagged.stderr[-3000:]
    report = json.loads((out / IID / "report.json").read_text())[IID]
    assert report["resolved"] is True and report["suspicious"] == FINDINGS
    assert json.loads((out / IID / "grade.json").read_text())["suspicious"] == FINDINGS
    assert "resolved; suspicious: calc/_exit_hook.py:1: atexit" in flagged.stderr

    refused = evaluate(example_build, predictions, out, "--hack-policy", "refuse")
    assert refused.returncode == 0, refused.stderr[-3000:]
    assert "graded before, reused" in refused.stderr  # the policy needs no new run
    report = json.loads((out / IID / "report.json").read_text())[IID]
    assert report["resolved"] is False and report["suspicious"] == FINDINGS
    summary = json.loads((out / "report.json").read_text())
    assert summary["unresolved_ids"] == [IID] and summary["resolved_ids"] == []

    bad = evaluate(example_build, predictions, out, "--hack-policy", "ignore")
    assert bad.returncode == 2 and "'ignore' is not one of 'refuse', 'flag'" in bad.stderr


def test_gold_patches_of_the_example_are_graded_with_nothing_flagged(example_build, tmp_path):
    out = tmp_path / "eval"
    result = evaluate(example_build, "gold", out, "--hack-policy", "refuse")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "report.json").read_text())
    assert summary["resolved_instances"] == summary["total_instances"] == 3
    for iid in summary["resolved_ids"]:
        assert json.loads((out / iid / "report.json").read_text())[iid]["suspicious"] == []


def test_the_trajectory_row_carries_the_findings_and_refuse_unresolves_it(
        example_build, flagged_patch, tmp_path):
    from swegc.dataset import load_instances
    from swegc.runtime.harness.hack_policy import HackOptions
    from swegc.runtime.policies import PolicyOptions
    from swegc.runtime.policies.scripted import call
    from swegc.runtime.rollout import RolloutOptions, Rollouts
    from swegc.trajectory_dataset import read_trajectories
    from swegc.train.capping import select
    from swegc.train.runs import Located

    script = (call("str_replace_editor", command="create", path="/tmp/fix.patch",
                   file_text=flagged_patch),
              call("bash", command="git apply /tmp/fix.patch"), call("submit"))
    instance = load_instances(example_build)[IID]

    def run(policy: str):
        options = RolloutOptions(out=tmp_path / "runs", policy="scripted",
                                 policy_options=PolicyOptions(script=script), jobs=1,
                                 hacks=HackOptions(policy))
        return Rollouts(options, echo=lambda line: None).run([instance])

    flagged = run("flag")
    [(where, traj)] = read_trajectories(flagged.path.parent.parent)
    assert traj.resolved is True and traj.grade == "FULL" and traj.suspicious == FINDINGS
    kept = select([Located(where, str(flagged.path), traj)], cap=2, max_length=10**6,
                  length_of=lambda t: 1)
    assert kept.kept == [] and kept.decisions[0].decision == "suspicious"

    refused = run("refuse")
    assert refused.reused == 1 and refused.ran == 0
    [(_, traj)] = read_trajectories(refused.path.parent.parent)
    assert traj.resolved is False and traj.grade == "NO" and traj.suspicious == FINDINGS


def test_the_rl_environment_rewards_a_flagged_patch_zero_unless_asked(row, flagged_patch):
    from swegc.runtime.gym_env import SWEEnv
    from swegc.runtime.policies.scripted import call

    def episode(**options) -> SWEEnv:
        env = SWEEnv(row, **options)
        env.reset()
        env.step(call("str_replace_editor", command="create", path="/tmp/fix.patch",
                      file_text=flagged_patch))
        env.step(call("bash", command="git apply /tmp/fix.patch"))
        env.step(call("submit"))
        return env

    with episode() as env:
        assert env.reward() == 0.0
        assert env.report.resolved is True and [f.to_json() for f in env.report.suspicious] \
            == FINDINGS
    with episode(reward_suspicious=True) as env:
        assert env.reward() == 1.0
    with episode(hack_policy="refuse", reward_suspicious=True) as env:
        assert env.reward() == 0.0 and env.report.resolved is False
    with pytest.raises(ValueError, match="hack_policy 'ignore'"):
        SWEEnv(row, hack_policy="ignore")


def test_a_trajectory_stored_before_rows_carried_the_scan_is_scanned_when_reused(
        example_build, flagged_patch):
    from swegc.dataset import load_instances
    from swegc.records import Trajectory
    from swegc.runtime.rollout import RolloutUnit, _scanned

    instance = load_instances(example_build)[IID]
    unit = RolloutUnit(instance, 0, "k" * 16, None)
    old = Trajectory(instance_id=IID, run_id="r", policy={}, messages=[], patch=flagged_patch,
                     resolved=True, grade="FULL", schema_version=2)
    assert _scanned(old, unit).suspicious == FINDINGS
    current = Trajectory(instance_id=IID, run_id="r", policy={}, messages=[], patch=flagged_patch)
    assert _scanned(current, unit).suspicious == []  # schema 3 rows say what their scan found
