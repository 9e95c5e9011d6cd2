"""`swegc compile` on the bundled example, end to end on the real Docker engine."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "examples" / "specs"
SWEGC = [sys.executable, "-m", "swegc.cli"]

EXPECTED_VALID = {
    "example__calc-2": (
        ["tests/test_stats.py::test_median_of_even_length"],
        ["tests/test_stats.py::test_mean", "tests/test_stats.py::test_mean_of_empty_raises",
         "tests/test_stats.py::test_median_of_odd_length"]),
    "example__calc-8": (
        ["tests/test_stats.py::test_moving_average_includes_last_window"],
        ["tests/test_stats.py::test_mean", "tests/test_stats.py::test_mean_of_empty_raises",
         "tests/test_stats.py::test_median_of_even_length",
         "tests/test_stats.py::test_median_of_odd_length"]),
    "example__calc-10": (
        ["tests/test_ops.py::test_percent_of_a_fraction"],
        ["tests/test_ops.py::test_add", "tests/test_ops.py::test_div",
         "tests/test_ops.py::test_div_by_zero_raises", "tests/test_ops.py::test_mul",
         "tests/test_ops.py::test_percent_of_whole_numbers", "tests/test_ops.py::test_sub",
         "tests/test_ops.py::test_sub_below_zero"]),
}
EXPECTED_REJECTED = {
    "example__calc-3": "only_tests_changed",
    "example__calc-5": "no_fail_to_pass",
    "example__calc-6": "no_test_change",
    "example__calc-12": "patch_does_not_apply",
    "example__calc-13": "no_test_change",
}


def compile_example(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, "compile", str(SPECS), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=1200)


def digest_outputs(out: Path) -> dict[str, str]:
    """Hashes of everything a user consumes (the dataset, card, reports, locks)."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and "logs" not in p.parts
                   and not p.name.startswith("store.sqlite"))
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def reports(out: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (out / "reports" / "instances.jsonl").read_text().splitlines()]
    return {row["instance_id"]: row for row in rows}


@pytest.fixture
def build(example_compile):
    return example_compile


def test_the_example_compiles_to_the_documented_instances_with_exact_test_lists(build):
    out, _ = build
    from datasets import load_dataset

    rows = {r["instance_id"]: r for r in load_dataset(str(out), split="train")}
    assert set(rows) == set(EXPECTED_VALID)
    for iid, (f2p, p2p) in EXPECTED_VALID.items():
        assert rows[iid]["FAIL_TO_PASS"] == f2p, iid
        assert rows[iid]["PASS_TO_PASS"] == p2p, iid
    assert rows["example__calc-10"]["flaky_tests"] == ["tests/test_clock.py::test_timer_resolution"]
    assert rows["example__calc-2"]["problem_statement"].startswith("median of an even number")
    assert rows["example__calc-2"]["issue_numbers"] == ["1"]
    assert rows["example__calc-8"]["version"] == "1.1" and rows["example__calc-2"]["version"] == "1.0"


def test_every_rejection_is_reported_with_its_reason(build):
    out, result = build
    by_id = reports(out)
    for iid, reason in EXPECTED_REJECTED.items():
        assert by_id[iid]["status"] == "rejected", iid
        assert by_id[iid]["reason"] == reason, iid
    assert "patch_does_not_apply" in result.stdout  # the summary names every reason
    assert "tests/test_clock.py::test_timer_resolution" in result.stdout


def test_instance_images_add_only_a_small_layer_and_logs_are_kept(build, docker_engine):
    out, _ = build
    from datasets import load_dataset

    for row in load_dataset(str(out), split="train"):
        image = docker_engine.images.get(row["image"])
        assert image.id == row["image_id"]
        own_layer = docker_engine.api.history(image.id)[0]["Size"]
        assert own_layer < 2_000_000, (row["instance_id"], own_layer)
        for side in ("before", "after"):
            for attempt in (1, 2, 3):
                assert (out / "logs" / row["instance_id"] / f"{side}-{attempt}.log").is_file()


def test_the_manifest_names_the_specs_and_each_valid_instances_image(build):
    out, _ = build
    from swegc.build_layout import BuildLayout, read_manifest
    from swegc.dataset import read_dataset

    manifest = read_manifest(BuildLayout(out))
    rows = read_dataset(out)
    assert {iid: (i.name, i.id) for iid, i in manifest.images.items()} == \
        {r["instance_id"]: (r["image_tag"], r["image_id"]) for r in rows}
    assert {s.spec_hash for s in manifest.specs} == {r["spec_hash"] for r in rows}
    assert manifest.counts["valid"] == manifest.counts["rows"] == len(EXPECTED_VALID)
    assert manifest.counts["rejected"] == len(EXPECTED_REJECTED)


def test_a_rerun_on_unchanged_input_runs_nothing_and_writes_identical_bytes(build):
    out, _ = build
    before = digest_outputs(out)
    again = compile_example(out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "[instance" not in again.stderr and "[env" not in again.stderr
    assert digest_outputs(out) == before


def _units_done(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM results WHERE kind='unit'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_compile_killed_midway_resumes_without_redoing_finished_units(build, tmp_path):
    reference, _ = build
    out = tmp_path / "resumed"
    proc = subprocess.Popen([*SWEGC, "compile", str(SPECS), "--out", str(out), "--jobs", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while _units_done(out / "store.sqlite") < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, "compile ended before it could be interrupted"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _units_done(out / "store.sqlite")
    assert 2 <= done < 5
    resumed = compile_example(out, "--jobs", "1")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stderr.count("[instance ") == 5 - done  # only what was left
    ours = {k: (v["status"], v["reason"], v["FAIL_TO_PASS"], v["PASS_TO_PASS"])
            for k, v in reports(out).items()}
    theirs = {k: (v["status"], v["reason"], v["FAIL_TO_PASS"], v["PASS_TO_PASS"])
              for k, v in reports(reference).items()}
    assert ours == theirs
