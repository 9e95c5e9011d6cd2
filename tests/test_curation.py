"""Curation the field asks for: difficulty signals on every row, a date window and a freshness
split, an exclusion list counted in the funnel, and a policy's resolve rate (``swegc curate``).

The compile here runs on a copy of the session's example build, so every unit is stored and
nothing is built: only the selection and the writing run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SWEGC = [sys.executable, "-m", "swegc.cli"]
PATCH = """diff --git a/calc/ops.py b/calc/ops.py
--- a/calc/ops.py
+++ b/calc/ops.py
@@ -1,3 +1,3 @@
-def add(a, b):
+def add(a: int, b: int) -> int:
     return a + b
 
@@ -10,2 +10,3 @@
 def sub(a, b):
+    # below zero is fine
     return a - b
diff --git a/calc/stats.py b/calc/stats.py
--- a/calc/stats.py
+++ b/calc/stats.py
@@ -1 +1 @@
-X = 1
+X = 2
"""


def swegc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, *args], capture_output=True, text=True, timeout=900)


def test_patch_size_counts_files_hunks_and_changed_lines():
    from swegc.difficulty import Difficulty, patch_size

    assert patch_size(PATCH) == (size := patch_size(PATCH)) and (size.files, size.hunks, size.lines) == (2, 3, 5)
    assert Difficulty.of(PATCH, ["t1", "t2"]).columns()["difficulty_fail_to_pass"] == 2
    assert patch_size("") == patch_size("not a diff") == type(size)(0, 0, 0)


def test_a_row_of_an_older_schema_is_read_with_its_difficulty_computed_from_its_patch():
    from swegc.records import Instance

    old = {"instance_id": "o__r-1", "repo": "o/r", "patch": PATCH, "FAIL_TO_PASS": '["a", "b", "c"]',
           "schema_version": 7}
    instance = Instance.from_row(old)
    assert (instance.difficulty_files, instance.difficulty_hunks, instance.difficulty_lines,
            instance.difficulty_fail_to_pass, instance.difficulty_resolve_rate) == (2, 3, 5, 3, None)
    assert instance.to_json()["schema_version"] == 7  # read as it was, not claimed newer


@pytest.mark.docker
def test_exclusions_dates_and_freshness_choose_rows_and_curate_adds_a_policys_resolve_rate(
        tmp_path, example_build):
    from swegc.dataset import read_dataset
    from swegc.records import Trajectory
    from swegc.trajectory_dataset import write_trajectories

    build = tmp_path / "build"
    shutil.copytree(example_build, build)
    exclude = tmp_path / "verified.txt"
    # (#12 shares its env and base commit with #10: leaving it out changes no image)
    exclude.write_text("# SWE-bench Verified's ids, say\n\nexample__calc-12   # in the benchmark\n"
                       "repo:someone/else\n")
    result = swegc("compile", str(ROOT / "examples" / "specs"), "--out", str(build),
                   "--exclude", str(exclude), "--until", "2024-03-08T00:00:00Z",
                   "--fresh-after", "2024-03-07T12:00:00Z")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[env" not in result.stderr and "[instance" not in result.stderr  # nothing built
    reports = {json.loads(line)["instance_id"]: json.loads(line)
               for line in (build / "reports" / "instances.jsonl").read_text().splitlines()}
    assert reports["example__calc-12"]["reason"] == "excluded"
    assert f"{exclude}:3" in reports["example__calc-12"]["detail"]
    assert reports["example__calc-13"]["reason"] == "outside_dates"  # created on 03-08
    assert "--until" in reports["example__calc-13"]["detail"]
    status = json.loads(swegc("status", str(build), "--json").stdout)
    filtered = next(stage for stage in status["funnel"] if stage["stage"] == "filtered")
    assert filtered["reasons"]["excluded"] == 1  # counted in the funnel like any filter

    # #8 was created before --fresh-after, #10 after it: a split of its own.
    train, fresh = read_dataset(build, "train"), read_dataset(build, "test_fresh")
    assert [r["instance_id"] for r in train] == ["example__calc-2", "example__calc-8"]
    assert [r["instance_id"] for r in fresh] == ["example__calc-10"]
    for row in train + fresh:
        assert row["difficulty_files"] >= 1 and row["difficulty_lines"] >= 1
        assert row["difficulty_fail_to_pass"] == len(row["FAIL_TO_PASS"])
        assert row["difficulty_resolve_rate"] is None

    def rollout(iid: str, sample: int, resolved: bool) -> Trajectory:
        return Trajectory(instance_id=iid, run_id=f"{iid}-{sample}", policy={"model": "acme/coder"},
                          messages=[], resolved=resolved, sample=sample)

    runs = tmp_path / "runs"
    write_trajectories(runs, [rollout("example__calc-8", 0, True), rollout("example__calc-8", 1, False),
                              rollout("example__calc-10", 0, True)], pretty_name="runs", description="runs")
    curated = swegc("curate", str(build), "--runs", str(runs))
    assert curated.returncode == 0, curated.stderr[-3000:]
    assert "resolve rate of acme/coder on 2 instance(s); 1 without a rollout of it" in curated.stdout
    (two, eight), [ten] = read_dataset(build, "train"), read_dataset(build, "test_fresh")
    assert (two["difficulty_resolve_rate"], two["difficulty_resolve_runs"]) == (None, 0)
    assert (eight["difficulty_resolve_rate"], eight["difficulty_resolve_runs"]) == (0.5, 2)
    assert (ten["difficulty_resolve_rate"], ten["difficulty_resolve_policy"]) == (1.0, "acme/coder")
    assert {k: v for k, v in eight.items() if not k.startswith("difficulty_resolve")} == \
        {k: v for k, v in train[1].items() if not k.startswith("difficulty_resolve")}


def test_an_exclusion_file_with_a_bad_line_is_refused_with_its_line(tmp_path):
    exclude = tmp_path / "ids.txt"
    exclude.write_text("example__calc-2\nrepo:no-slash\n")
    result = swegc("compile", str(ROOT / "examples" / "specs"), "--out", str(tmp_path / "b"),
                   "--exclude", str(exclude))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{exclude}:2: 'repo:no-slash': a repository is written repo:owner/name" in result.stderr
