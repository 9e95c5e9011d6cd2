"""The funnel a compile records: each stage's count and what it cost, as a user reads it back
from reports/funnel.json, `swegc status` (table and --json) and the dataset card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from swegc.cli import cli
from swegc.funnel import COMPILE_STAGES, Stage, read_funnel, write_funnel
from tests.test_compile_example import compile_example, reports

pytestmark = pytest.mark.docker


def funnel_of(out: Path) -> dict:
    return json.loads((out / "reports" / "funnel.json").read_text())


def status(*args: str) -> str:
    result = CliRunner().invoke(cli, ["status", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_example_funnel_goes_from_every_candidate_to_the_dataset_rows(example_compile):
    from swegc.dataset import read_dataset

    out, _ = example_compile
    data = funnel_of(out)
    stages = data["funnel"]
    assert [s["stage"] for s in stages] == list(COMPILE_STAGES)
    counts = [s["count"] for s in stages]
    assert counts == sorted(counts, reverse=True)  # never growing
    rows = reports(out)
    assert counts[0] == len(rows)  # every candidate considered has a report row
    assert counts[-1] == len(read_dataset(out)) == data["valid"] == 3
    # who left where, and why, as the reports say
    for before, stage in zip(stages, stages[1:]):
        assert sum(stage["reasons"].values()) == before["count"] - stage["count"], stage
    assert stages[1]["reasons"] == {"no_test_change": 2, "only_tests_changed": 1}
    assert stages[4]["reasons"] == {"patch_does_not_apply": 1}
    assert stages[6]["reasons"] == {"no_fail_to_pass": 1}
    assert {r["stage"] for r in rows.values() if r["status"] == "valid"} == {"valid"}
    by_stage = {s["stage"]: s for s in stages}
    assert by_stage["validated"]["cpu_s"] > 0  # the test runs' containers used CPU
    assert by_stage["validated"]["wall_s"] >= by_stage["validated"]["cpu_s"] / 4
    assert by_stage["instance_built"]["bytes"] > 0  # each instance's own layer
    assert by_stage["env_built"]["bytes"] > by_stage["instance_built"]["bytes"]
    assert by_stage["candidates_read"]["cpu_s"] == by_stage["filtered"]["cpu_s"] == 0
    assert data["cpu_h_per_valid"] == pytest.approx(data["cpu_s"] / 3600 / 3, abs=1e-6)
    assert 0 < data["disk_per_valid"] < 100_000_000


def test_swegc_status_shows_the_funnel_as_a_table_and_whole_as_json(example_compile):
    out, _ = example_compile
    text = status(str(out))
    table = text[text.index("funnel ("):]
    for name in COMPILE_STAGES:
        assert f"\n  {name} " in table
    assert "left at patches_apply: patch_does_not_apply 1" in table
    assert "CPU-hours" in table
    shown = json.loads(status(str(out), "--json"))
    assert [{k: s[k] for k in ("stage", "count", "cpu_s", "wall_s", "bytes")}
            for s in shown["funnel"]] == \
        [{k: s[k] for k in ("stage", "count", "cpu_s", "wall_s", "bytes")}
         for s in funnel_of(out)["funnel"]]
    assert shown["cpu_h_per_valid"] > 0 and shown["disk_per_valid"] > 0
    assert shown["statuses"] == {"rejected": 5, "valid": 3}
    card = (out / "README.md").read_text()
    assert "## Funnel and cost" in card and "| valid | 3 |" in card


def test_a_resume_that_builds_nothing_keeps_every_figure_of_the_funnel(example_compile, tmp_path):
    out, _ = example_compile
    copy = tmp_path / "build"
    shutil.copytree(out, copy)
    again = compile_example(copy)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "[instance" not in again.stderr and "[env" not in again.stderr  # nothing ran
    assert funnel_of(copy) == funnel_of(out)  # the stored costs counted once, not zeroed


def test_status_reads_a_funnel_another_command_wrote(tmp_path):
    """A folder with only reports/funnel.json (what synthesize writes) shows the same way."""
    stages = [Stage("targets", 10), Stage("mutated", 6, cpu_s=12.0, wall_s=20.0,
                                          reasons={"no_mutation": 4}),
              Stage("valid", 2, cpu_s=30.0, wall_s=40.0, bytes=2_000_000,
                    reasons={"no_fail_to_pass": 4})]
    write_funnel(tmp_path / "reports" / "funnel.json", stages, kind="synthesize")
    assert read_funnel(tmp_path / "reports" / "funnel.json")["stages"] == stages
    text = status(str(tmp_path))
    assert "left at mutated: no_mutation 4" in text
    shown = json.loads(status(str(tmp_path), "--json"))
    assert [s["stage"] for s in shown["funnel"]] == ["targets", "mutated", "valid"]
    assert shown["cpu_h_per_valid"] == pytest.approx(42 / 3600 / 2, abs=1e-6)
    assert shown["kind"] == "synthesize"


def test_image_builds_count_their_containers_cpu_built_or_failed(example_compile, tmp_path,
                                                                  docker_engine):
    """Instance images built on one of the example's envs (a fresh key each time), with an
    install that burns about a quarter of a CPU-second."""
    from swegc.images.builder import BuildFailed, BuiltImage, ImageBuilder, InstanceRecipe
    from swegc.images.network import BuildNetwork

    out, _ = example_compile
    env_row = json.loads((out / "reports" / "envs.jsonl").read_text().splitlines()[0])
    image = docker_engine.images.get(env_row["image"])
    env = BuiltImage(env_row["image"], image.id, env_row["env_key"], 0, 0, 0.0, True)
    commit = env_row["env_commit"]
    builder = ImageBuilder(None, BuildNetwork.resolve({}), tmp_path / "logs")
    burn = f"python3 -c 'sum(range(10**7))'  # {tmp_path.name}"  # a new recipe: a new image
    built = builder.instance_image(InstanceRecipe("acme__funnel-1", commit, install=(burn,)),
                                   env, commit, bundle=b"")
    try:
        assert built.cpu_s > 0.1 and built.layer_bytes > 0 and not built.reused
        with pytest.raises(BuildFailed) as failed:
            builder.instance_image(InstanceRecipe("acme__funnel-2", commit,
                                                  install=(burn, "exit 3")), env, commit,
                                   bundle=b"")
        assert failed.value.cpu_s > 0.1 and failed.value.wall_s > 0
    finally:
        docker_engine.images.remove(built.name, force=True)
