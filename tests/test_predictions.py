"""Reading predictions files in each shape SWE-bench users hand them over (no Docker)."""

from __future__ import annotations

import json

import pytest

from swegc.errors import InputError
from swegc.runtime.harness.evaluation import read_predictions

ROWS = {"acme__a-1": {"patch": "gold-a"}, "acme__a-2": {"patch": "gold-b"}}


def prediction(iid: str, patch: str = "diff") -> dict:
    return {"instance_id": iid, "model_name_or_path": "m", "model_patch": patch}


def test_a_jsonl_file_with_one_prediction_is_that_prediction(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text(json.dumps(prediction("acme__a-1")) + "\n")
    [read] = read_predictions(path, ROWS)
    assert (read.instance_id, read.model_patch) == ("acme__a-1", "diff")


def test_a_json_file_holding_one_prediction_object_is_that_prediction(tmp_path):
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(prediction("acme__a-2", "x")))
    [read] = read_predictions(path, ROWS)
    assert (read.instance_id, read.model_patch) == ("acme__a-2", "x")


def test_a_json_object_keyed_by_instance_id_and_a_list_are_read_too(tmp_path):
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"acme__a-1": {"model_patch": "p1", "model_name_or_path": "m"}}))
    assert [p.model_patch for p in read_predictions(keyed, ROWS)] == ["p1"]
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps([prediction("acme__a-1"), prediction("acme__a-2")]))
    assert [p.instance_id for p in read_predictions(listed, ROWS)] == ["acme__a-1", "acme__a-2"]


def test_a_bad_jsonl_line_names_its_line(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text(json.dumps(prediction("acme__a-1")) + "\n{not json\n")
    with pytest.raises(InputError, match=r"preds.jsonl:2: not valid JSON"):
        read_predictions(path, ROWS)
