"""`swegc synthesize` on the bundled example: tasks a user can run, grade and trust.

The example is compiled once per session (``example_compile``); synthesis runs once per module
with a small operator-swapping generator (``synth_fixtures``) so that the pipeline is tested on
its own, with few tasks per environment to keep the time down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synth_fixtures import swap

pytestmark = pytest.mark.docker
PER_ENV = 2
# The strategies take turns: calc 1.1's instances have merged pull requests with tests behind
# them (#2, #8) to revert; calc 1.0's one instance starts the history, so its tasks are mutations.
STRATEGIES = ("pr_revert", "mutation")
OUTPUTS = ("data/train-00000-of-00001.parquet", "reports/instances.jsonl", "reports/funnel.json")


@pytest.fixture(scope="module")
def synth(example_compile, tmp_path_factory):
    from swegc.compiler.synthesis.pipeline import SynthOptions, Synthesizer

    out = tmp_path_factory.mktemp("synth")
    lines: list[str] = []
    synthesizer = Synthesizer(SynthOptions(build=example_compile[0], out=out, per_env=PER_ENV,
                                           jobs=2, strategies=STRATEGIES),
                              lines.append, generators={"mutation": swap})
    tally = synthesizer.run()
    yield out, tally, lines, synthesizer
    from swegc.docker_client import docker_client

    client = docker_client()
    made = [row["image_tag"] for row in tally.rows]  # the task images this module made
    made += [base.image for base, _ in synthesizer._bases.values() if base.image]  # then bases
    for name in made:
        try:
            client.images.remove(name, force=True)
        except Exception:
            pass


def _rows(out: Path) -> list[dict]:
    from swegc.dataset import read_dataset

    return read_dataset(out)


def test_every_environment_gets_its_tasks_as_rows_in_the_dataset_schema(synth):
    from swegc.dataset import load_instances

    out, tally, lines, _ = synth
    instances = load_instances(out)
    assert len(instances) == 2 * PER_ENV  # two environments in the example
    for iid, inst in instances.items():
        strategy = inst.synthesis["strategy"]
        assert iid.startswith(f"example__calc.{strategy}.") and len(iid.rsplit(".", 1)[1]) == 8
        assert inst.origin in ("pr_revert", "mutation:swap_operator")
        assert inst.test_patch == "" and inst.patch.startswith("diff --git a/calc/")
        assert inst.FAIL_TO_PASS and inst.synthesis["source_instance"].startswith("example__calc-")
        assert inst.synthesis["functions"][0].startswith("calc/")
        assert inst.tests.test_directives and all(d.startswith("tests/")
                                                  for d in inst.tests.test_directives)
        assert inst.image.startswith("sha256:") and inst.eval_script
        assert inst.synthesis["layer_bytes"] < 1_000_000  # a thin layer on the instance image
    assert {inst.origin for inst in instances.values()} == {"mutation:swap_operator", "pr_revert"}
    reverted = {inst.synthesis["extra"]["pull_number"] for inst in instances.values()
                if inst.origin == "pr_revert"}
    assert reverted and reverted <= {2, 8}  # pull requests with tests, before calc-10 and -8
    assert any("valid task(s) in this environment so far" in line for line in lines)


def test_the_problem_statement_quotes_the_failing_tests_but_never_the_changed_line(synth):
    out, _, _, _ = synth
    for row in _rows(out):
        text = row["problem_statement"]
        assert all(test in text for test in row["FAIL_TO_PASS"])
        changed = [line[1:].strip() for line in row["patch"].splitlines()
                   if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()]
        assert changed and not any(line in text for line in changed), text
        assert "calc/ops.py:" not in text and "calc/stats.py:" not in text


def test_gold_patches_resolve_every_task_and_the_bugged_tree_resolves_none(synth, tmp_path):
    from swegc.runtime.harness.evaluation import evaluate
    from swegc.runtime.sandbox import open_sandbox

    out, _, _, _ = synth
    summary = evaluate("gold", out, tmp_path / "gold", jobs=2, echo=lambda _: None)
    report = json.loads((tmp_path / "gold" / "report.json").read_text())
    assert report["resolved_instances"] == 2 * PER_ENV, summary
    # The row's eval_script (what SWE-bench 5.x and SkyRL run) on the task as it starts.
    row = _rows(out)[0]
    with open_sandbox(row["image_name"]) as box:
        box.write_file("/tmp/eval.sh", row["eval_script"].encode())
        assert box.execute("bash /tmp/eval.sh", timeout_s=300).exit_code != 0


def test_nothing_in_a_task_image_holds_the_fixed_file(synth, docker_engine):
    from swegc.compiler.synthesis.leak import leak_problems
    from swegc.runtime.sandbox import open_sandbox

    out, _, _, first = synth
    sources = {r["instance_id"]: r for r in _rows(Path(first.options.build))}
    checked = 0
    for row in _rows(out):
        path = row["patch"].split()[2][2:]  # diff --git a/PATH b/PATH
        source = sources[row["synthesis"]["source_instance"]]
        if f"a/{path}" in source["patch"]:
            continue  # the source's own fix changed the file: its history never held it
        with open_sandbox(row["image_name"]) as box:
            box.write_file("/tmp/fix.diff", row["patch"].encode())
            assert box.execute("git apply /tmp/fix.diff").exit_code == 0
            fixed = box.execute(f"git hash-object {path}").output.strip()
            assert box.execute("git checkout -q -- . && git status --porcelain").output == ""
            assert leak_problems(box, [fixed]) == []
            assert box.execute("git rev-parse HEAD").output.strip() == row["base_commit"]
            assert box.execute("git log --all --format=%H").output.split() == [row["base_commit"]]
            assert box.execute(f"git cat-file -e {fixed}").exit_code != 0
        # The source instance's image holds that very file in its history: the check sees it.
        with open_sandbox(source["image_name"]) as box:
            assert box.execute(f"git cat-file -e {fixed}").exit_code == 0
            assert any("fixed version" in p for p in leak_problems(box, [fixed]))
        checked += 1
    assert checked


def test_a_second_run_builds_and_runs_nothing_and_status_shows_the_funnel(synth):
    from swegc.compiler.report import summarize
    from swegc.compiler.synthesis.pipeline import SynthOptions, Synthesizer

    out, tally, _, first = synth
    before = [(out / name).read_bytes() for name in OUTPUTS]
    lines: list[str] = []
    again = Synthesizer(SynthOptions(build=first.options.build, out=out, per_env=PER_ENV, jobs=2,
                                     strategies=STRATEGIES),
                        lines.append, generators={"mutation": swap}).run()
    assert not any("screening" in line or "mapping" in line for line in lines)
    assert [r["instance_id"] for r in again.rows] == [r["instance_id"] for r in tally.rows]
    assert [(out / name).read_bytes() for name in OUTPUTS] == before
    funnel = json.loads((out / "reports" / "funnel.json").read_text())
    stages = {s["stage"]: s for s in funnel["funnel"]}
    assert list(stages) == ["candidates", "applied", "screened", "validated", "valid"]
    assert stages["valid"]["count"] == 2 * PER_ENV
    assert stages["candidates"]["count"] >= stages["applied"]["count"] >= stages["valid"]["count"]
    assert stages["valid"]["bytes"] > 0
    text = summarize(out)
    assert "example/calc" in text and f"{2 * PER_ENV}" in text


def test_publishing_checks_accept_the_tasks_without_a_test_patch(synth):
    from swegc.dataset import load_instances
    from swegc.hub.checks import check_rows

    out, _, _, _ = synth
    instances = list(load_instances(out).values())
    assert check_rows({"train": instances}, lambda _: None) == []
    real = [instances[0].__class__(**{**instances[0].__dict__, "origin": "real"})]
    assert "test_patch" in str(check_rows({"train": real}, lambda _: None))
