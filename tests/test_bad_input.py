"""Bad input never crashes a run: documents nested thousands of levels deep, patches that
cannot be diffs, bytes that are not UTF-8. Each is an error naming the file and line, or (a
prediction's patch) a refusal graded unresolved with its reason. No Docker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from swegc.compiler.candidates import jsonl_candidates
from swegc.compiler.spec.loader import load_specs
from swegc.dataset import load_rows, read_dataset, write_dataset
from swegc.errors import InputError, SpecError
from swegc.nesting import MAX_DEPTH, loads
from swegc.runtime.harness.evaluation import MAX_PATCH_BYTES, patch_refusal, read_predictions
from swegc.trajectory_dataset import read_trajectories

ROOT = Path(__file__).resolve().parents[1]
DEEP = 5000  # far past the interpreter's recursion limit
DEEP_JSON = "[" * DEEP + "]" * DEEP
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
DIFF = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"


def swegc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swegc.cli", *args], capture_output=True,
                          text=True, timeout=120)


def prediction(iid: str, patch: str = DIFF) -> dict:
    return {"instance_id": iid, "model_name_or_path": "m", "model_patch": patch}


# ---- the shared JSON reader -------------------------------------------------------------

def test_json_as_deep_as_the_limit_reads_and_one_level_more_is_an_error_at_its_bracket():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(json.JSONDecodeError, match=TOO_DEEP) as info:
        loads('{"a":\n' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}")
    assert (info.value.lineno, info.value.colno) == (2, MAX_DEPTH)


def test_json_nested_thousands_deep_is_a_decode_error_not_a_recursion_error():
    with pytest.raises(json.JSONDecodeError, match=TOO_DEEP):
        loads(DEEP_JSON)


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"patch": "[{" * 10_000 + '\\"]'})
    assert loads(text)["patch"].startswith("[{[{")


# ---- specs -----------------------------------------------------------------------------

def test_a_spec_nested_thousands_of_levels_deep_fails_check_with_file_and_line(tmp_path):
    spec = tmp_path / "deep.yaml"
    spec.write_text("repo: acme/widgets\nsource:\n" + "".join(
        "  " * level + f"k{level}:\n" for level in range(1, DEEP)), encoding="utf-8")
    result = swegc("check", str(spec))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # "source" is level 1; the key that opens level 101 is on line 2 + 100
    assert f"{spec}:{2 + MAX_DEPTH}: invalid YAML: {TOO_DEEP}" in result.stderr


def test_a_deep_flow_list_and_aliases_stacked_deep_are_located_spec_problems(tmp_path):
    (tmp_path / "flow.yaml").write_text("repo: acme/w\n\nsource: " + DEEP_JSON + "\n")
    level = "[" * 60 + "]" * 60
    (tmp_path / "alias.yaml").write_text(
        f"repo: acme/w\na: &a {level}\nb: &b [{'[' * 60}*a{']' * 60}]\nc: [*b, *b]\n")
    with pytest.raises(SpecError) as info:
        load_specs([tmp_path / "flow.yaml", tmp_path / "alias.yaml"])
    found = [str(p) for p in info.value.problems]
    assert any(p.startswith(f"{tmp_path / 'flow.yaml'}:3: invalid YAML: {TOO_DEEP}")
               for p in found), found
    assert any(p.startswith(f"{tmp_path / 'alias.yaml'}:2: invalid YAML: once its aliases are "
                            f"expanded, {TOO_DEEP}") for p in found), found


def test_a_spec_nested_just_under_the_limit_is_checked_as_usual(tmp_path):
    spec = (ROOT / "examples" / "specs" / "calc.yaml").read_text(encoding="utf-8")
    deep = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    (tmp_path / "calc.yaml").write_text(spec + f"extra: {deep}\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_specs([tmp_path / "calc.yaml"])
    [problem] = info.value.problems
    assert "unknown key 'extra'" in str(problem)


# ---- predictions -----------------------------------------------------------------------

ROWS = {"acme__a-1": {"patch": "gold-a"}, "acme__a-2": {"patch": "gold-b"}}


def test_a_deep_jsonl_prediction_names_its_line(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text(json.dumps(prediction("acme__a-1")) + "\n" + DEEP_JSON + "\n")
    with pytest.raises(InputError, match=rf"preds.jsonl:2: not valid JSON \({TOO_DEEP}"):
        read_predictions(path, ROWS)


def test_a_deep_json_predictions_file_names_the_line_where_the_limit_is_passed(tmp_path):
    path = tmp_path / "preds.json"
    path.write_text('[\n  {"instance_id": "acme__a-1",\n   "model_patch": ' + DEEP_JSON + "}\n]")
    with pytest.raises(InputError, match=rf"preds.json:3: not valid JSON \({TOO_DEEP}"):
        read_predictions(path, ROWS)


def test_evaluate_on_deep_predictions_exits_1_without_a_traceback(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"instance_id": iid}) + "\n" for iid in ROWS))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(DEEP_JSON + "\n")
    result = swegc("evaluate", str(preds), "--dataset", str(rows), "--out", str(tmp_path / "e"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{preds}:1: not valid JSON ({TOO_DEEP}" in result.stderr


def test_a_non_utf8_patch_leaves_the_other_predictions_of_its_file_readable(tmp_path):
    path = tmp_path / "preds.jsonl"
    good = json.dumps(prediction("acme__a-1")).encode()
    bad = json.dumps(prediction("acme__a-2", "diff\n+caf\xe9\n")).encode().replace(
        b"\\u00e9", b"\xe9")  # the raw Latin-1 byte, as a tool writing Latin-1 leaves it
    path.write_bytes(good + b"\n" + bad + b"\n")
    first, second = read_predictions(path, ROWS)
    assert first.model_patch == DIFF and patch_refusal(first.model_patch) is None
    assert patch_refusal(second.model_patch) == (
        "refused before grading: the patch is not UTF-8 text (line 2 of the patch); write the "
        "predictions file in UTF-8")


def test_a_patch_over_the_size_limit_is_refused_and_one_at_the_limit_is_not():
    refusal = patch_refusal("+" * (100 * 2**20))
    assert refusal is not None and "104,857,600 bytes, over the limit of 10 MiB" in refusal
    assert patch_refusal("+" * MAX_PATCH_BYTES) is None
    assert patch_refusal("é" * (MAX_PATCH_BYTES // 2 + 1)) is not None  # bytes, not characters


def test_binary_junk_as_a_patch_is_refused_as_binary():
    junk = bytes(range(256)).decode("latin-1") * 4
    refusal = patch_refusal(DIFF + junk)
    assert refusal is not None and "NUL bytes (line 7 of the patch): binary data" in refusal
    assert patch_refusal(DIFF) is None and patch_refusal("") is None and patch_refusal(None) is None


# ---- rows, candidates, trajectories -------------------------------------------------------

def test_evaluate_on_a_deep_jsonl_dataset_row_names_the_row_without_a_traceback(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"instance_id": "acme__a-1"}) + "\n"
                    + '{"instance_id": "acme__a-2", "x": ' + DEEP_JSON + "}\n")
    result = swegc("evaluate", "gold", "--dataset", str(rows), "--out", str(tmp_path / "e"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{rows}:2: not valid JSON ({TOO_DEEP}" in result.stderr


def test_a_non_utf8_dataset_row_names_its_line(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(b'{"instance_id": "acme__a-1"}\n{"instance_id": "acme__a-2", "x": "\xff"}\n')
    with pytest.raises(InputError, match=r"rows.jsonl:2: not UTF-8 text \(byte 36 of the line\)"):
        load_rows(rows)


def test_a_parquet_json_column_nested_too_deep_names_its_row_and_column(tmp_path):
    deep: list = []
    for _ in range(MAX_DEPTH + 50):
        deep = [deep]
    write_dataset(tmp_path, [{"instance_id": "acme__a-1", "validation": {}},
                             {"instance_id": "acme__a-2", "validation": {"runs": deep}}],
                  features_order=["instance_id", "validation"], pretty_name="t", description="t")
    with pytest.raises(InputError, match=rf"#row1: column 'validation' is not valid JSON "
                                         rf"\({TOO_DEEP}"):
        read_dataset(tmp_path)


def test_a_deep_candidates_jsonl_names_its_line(tmp_path):
    spec = (ROOT / "examples" / "specs" / "calc.yaml").read_text(encoding="utf-8")
    (tmp_path / "calc.yaml").write_text(spec.replace("../candidates.jsonl", "candidates.jsonl"))
    (tmp_path / "candidates.jsonl").write_text('{"body": ' + DEEP_JSON + "}\n")
    [loaded] = load_specs([tmp_path / "calc.yaml"])
    with pytest.raises(InputError, match=rf"candidates.jsonl:1: not valid JSON \({TOO_DEEP}"):
        jsonl_candidates(loaded)


def test_a_deep_trajectory_jsonl_names_its_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text("\n" + json.dumps({"messages": json.loads("[" * 150 + "]" * 150)}) + "\n")
    with pytest.raises(InputError, match=rf"runs.jsonl:2: not valid JSON \({TOO_DEEP}"):
        read_trajectories(path)
