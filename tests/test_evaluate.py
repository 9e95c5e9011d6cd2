"""`swegc evaluate` on the compiled example: SWE-bench's predictions in, its reports out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from swegc.dataset import read_dataset, write_jsonl

pytestmark = pytest.mark.docker

SWEGC = [sys.executable, "-m", "swegc.cli"]
def swegc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def rows(example_compile):
    out, _ = example_compile
    return {row["instance_id"]: row for row in read_dataset(out)}


def mixed_predictions(rows) -> list[dict]:
    """Gold for calc-2, nothing for calc-8, for calc-10 a patch of test files only (its own
    test_patch: the new test is there, the fix is not)."""
    return [
        {"instance_id": "example__calc-2", "model_name_or_path": "m",
         "model_patch": rows["example__calc-2"]["patch"]},
        {"instance_id": "example__calc-8", "model_name_or_path": "m", "model_patch": ""},
        {"instance_id": "example__calc-10", "model_name_or_path": "m",
         "model_patch": rows["example__calc-10"]["test_patch"]},
    ]


def test_evaluate_on_mixed_predictions_gives_swebench_reports(rows, example_compile, tmp_path):
    build, _ = example_compile
    predictions = tmp_path / "preds.jsonl"
    write_jsonl(predictions, mixed_predictions(rows))
    out = tmp_path / "eval"
    result = swegc("evaluate", str(predictions), "--dataset", str(build), "--out", str(out),
                   "--jobs", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "report.json").read_text())
    assert summary["total_instances"] == 3 and summary["submitted_instances"] == 3
    assert summary["resolved_ids"] == ["example__calc-2"]
    assert summary["unresolved_ids"] == ["example__calc-10"]
    assert summary["empty_patch_ids"] == ["example__calc-8"]
    assert summary["completed_ids"] == ["example__calc-10", "example__calc-2"]
    assert summary["error_ids"] == [] and summary["incomplete_ids"] == []
    assert summary["resolved_instances"] == 1 and summary["empty_patch_instances"] == 1
    unresolved = json.loads((out / "example__calc-10" / "report.json").read_text())
    body = unresolved["example__calc-10"]
    assert body["patch_successfully_applied"] and not body["resolved"]
    assert body["tests_status"]["FAIL_TO_PASS"]["failure"] == rows["example__calc-10"]["FAIL_TO_PASS"]
    grade = json.loads((out / "example__calc-10" / "grade.json").read_text())
    assert grade["reverted_files"] == ["tests/test_clock.py", "tests/test_ops.py"]
    assert (out / "example__calc-2" / "test_output.txt").is_file()
    assert "[3/3]" in result.stderr and "1/3 resolved" in result.stdout

    again = swegc("evaluate", str(predictions), "--dataset", str(build), "--out", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "[1/" not in again.stderr and "reused" in again.stderr
    assert json.loads((out / "report.json").read_text()) == summary


def test_gold_as_a_json_dict_for_one_instance_resolves_it(rows, example_compile, tmp_path):
    build, _ = example_compile
    predictions = tmp_path / "preds.json"
    predictions.write_text(json.dumps({
        "example__calc-8": {"model_name_or_path": "gold", "model_patch": rows["example__calc-8"]["patch"]},
        "example__calc-2": {"model_name_or_path": "gold", "model_patch": ""}}))
    out = tmp_path / "eval"
    result = swegc("evaluate", str(predictions), "--dataset", str(build), "--out", str(out),
                   "--instance", "example__calc-8")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "report.json").read_text())
    assert summary["total_instances"] == 1 and summary["resolved_ids"] == ["example__calc-8"]


def test_a_prediction_for_an_unknown_instance_is_a_clear_error(example_compile, tmp_path):
    build, _ = example_compile
    predictions = tmp_path / "preds.json"
    predictions.write_text(json.dumps([{"instance_id": "example__calc-99",
                                        "model_name_or_path": "m", "model_patch": "x"}]))
    result = swegc("evaluate", str(predictions), "--dataset", str(build), "--out",
                   str(tmp_path / "eval"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{predictions} [0]: instance 'example__calc-99' is not in the dataset" in result.stderr


def test_gold_on_a_jsonl_dataset_resolves_every_instance(rows, tmp_path):
    dataset = tmp_path / "rows.jsonl"
    write_jsonl(dataset, list(rows.values()))
    result = swegc("evaluate", "gold", "--dataset", str(dataset), "--out", str(tmp_path / "e"),
                   "-j", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "e" / "report.json").read_text())
    assert summary["resolved_instances"] == 3 and summary["unresolved_instances"] == 0


def test_an_infrastructure_failure_is_an_error_apart_and_is_tried_again_on_a_rerun(rows, tmp_path):
    from swegc.runtime.harness.evaluation import evaluate

    # A registry that does not answer: worth another try, unlike an image that is gone.
    unreachable = {**rows["example__calc-2"], "image": "127.0.0.1:9/swegc-test-inst/calc@sha256:"
                   + "0" * 64}
    dataset = tmp_path / "rows.jsonl"
    write_jsonl(dataset, [unreachable, rows["example__calc-8"]])
    lines: list[str] = []
    summary = evaluate("gold", dataset, tmp_path / "e", attempts=2, echo=lines.append)
    assert summary.error_ids == ["example__calc-2"] and summary.resolved_ids == ["example__calc-8"]
    assert summary.unresolved_ids == [] and summary.completed_ids == ["example__calc-8"]
    assert summary.image_gone_ids == []
    assert summary.reports["example__calc-2"].error.startswith("after 2 attempts")
    assert not (tmp_path / "e" / "example__calc-2" / "report.json").exists()
    assert any("example__calc-2: error" in line for line in lines)
    lines.clear()
    evaluate("gold", dataset, tmp_path / "e", attempts=1, echo=lines.append)
    assert any(line.startswith("[1/1] example__calc-2: error") for line in lines), lines


def test_patches_that_cannot_be_diffs_are_refused_and_the_others_graded_as_usual(rows, tmp_path):
    """A 100 MB patch, binary junk and a patch with a raw Latin-1 byte, in one JSONL file
    beside gold: each refused (unresolved, the reason in its report.json and the run's), no
    container started for them; gold resolves."""
    junk_row = {**rows["example__calc-10"], "instance_id": "example__calc-11"}
    dataset = tmp_path / "rows.jsonl"
    write_jsonl(dataset, [*rows.values(), junk_row])
    lines = [
        {"instance_id": "example__calc-2", "model_name_or_path": "m",
         "model_patch": rows["example__calc-2"]["patch"]},
        {"instance_id": "example__calc-8", "model_name_or_path": "m",
         "model_patch": rows["example__calc-8"]["patch"] + "+" * (100 * 2**20)},
        {"instance_id": "example__calc-11", "model_name_or_path": "m",
         "model_patch": bytes(range(256)).decode("latin-1") * 64},
    ]
    latin1 = json.dumps({"instance_id": "example__calc-10", "model_name_or_path": "m",
                         "model_patch": rows["example__calc-10"]["patch"] + "+caf\xe9\n"})
    predictions = tmp_path / "preds.jsonl"
    predictions.write_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines)
                            + latin1.encode().replace(b"\\u00e9", b"\xe9") + b"\n")
    out = tmp_path / "eval"
    result = swegc("evaluate", str(predictions), "--dataset", str(dataset), "--out", str(out))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    summary = json.loads((out / "report.json").read_text())
    refused = ["example__calc-10", "example__calc-11", "example__calc-8"]
    assert summary["resolved_ids"] == ["example__calc-2"]
    assert summary["unresolved_ids"] == refused and summary["error_ids"] == []
    reasons = summary["refused_patches"]
    assert sorted(reasons) == refused
    size = len(lines[1]["model_patch"].encode())
    assert f"the patch is {size:,} bytes, over the limit of 10 MiB" in reasons["example__calc-8"]
    assert "NUL bytes" in reasons["example__calc-11"]
    assert "not UTF-8" in reasons["example__calc-10"]
    for iid in refused:
        body = json.loads((out / iid / "report.json").read_text())[iid]
        assert body["patch_problem"] == reasons[iid] and body["resolved"] is False
        assert not body["patch_successfully_applied"]
        assert not (out / iid / "test_output.txt").exists()  # never ran
        assert f"{iid}: unresolved, refused before grading" in result.stderr
    assert (out / "example__calc-10" / "patch.diff").read_bytes().endswith(b"+caf\xe9\n")
    assert "1/4 resolved" in result.stdout


def test_a_row_whose_image_is_gone_is_said_so_with_how_to_get_it_back_and_counted_apart(
        rows, tmp_path):
    gone = {**rows["example__calc-2"], "image": "swegc-test-inst/example__calc-2:gone"}
    dataset = tmp_path / "rows.jsonl"
    write_jsonl(dataset, [gone, rows["example__calc-8"]])
    result = swegc("evaluate", "gold", "--dataset", str(dataset), "--out", str(tmp_path / "e"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("example__calc-2: error: image swegc-test-inst/example__calc-2:gone is gone (not in "
            "this Docker engine") in result.stderr
    assert "run the same command again" not in result.stderr
    assert ("1 instance(s) name an image that is gone; running the same command again cannot "
            "help: a compile of the same specs into the same build folder") in result.stderr
    assert "name@sha256:...), which are pulled" in result.stderr
    summary = json.loads((tmp_path / "e" / "report.json").read_text())
    assert summary["image_gone_ids"] == ["example__calc-2"]
    assert summary["error_ids"] == ["example__calc-2"] and summary["resolved_instances"] == 1
