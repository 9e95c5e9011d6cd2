"""The dataset writer: Hub layout, a stable schema, byte-identical rebuilds, loadable by datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from swegc.dataset import load_instances, read_dataset, write_dataset, write_jsonl
from swegc.errors import InputError
from swegc.records import Instance
from swegc.test_settings import TestSettings


def instance(number: int, **changes: Any) -> dict[str, Any]:
    row = Instance(
        instance_id=f"octo__demo-{number}", repo="octo/demo", base_commit="a" * 40,
        patch="diff --git a/x.py b/x.py\n", test_patch="diff --git a/t.py b/t.py\n",
        problem_statement="Crash on naïve input — ünïcode\n", hints_text="", created_at="2024-03-01T10:00:00Z",
        version="1.2", environment_setup_commit="b" * 40,
        FAIL_TO_PASS=["tests/t.py::test_x[a - b]", "tests/t.py::TestC::test_z[x::y]"], PASS_TO_PASS=[],
        pull_number=number, issue_numbers=["7"], image=f"swegc/octo-demo:{number}@sha256:{'c' * 64}",
        image_id="sha256:" + "d" * 64, spec_hash="e" * 16,
        tests=TestSettings(test_command="pytest -rA -p no:cacheprovider",
                           test_directives=("tests/t.py",), parser=""),
        log_parser="pytest", flaky_tests=[],
        validation={"runs": [{"side": "before", "attempt": 0, "exit_code": 1, "duration_s": 0.5,
                              "statuses": {"tests/t.py::test_x[a - b]": "FAILED"}}], "runs_per_side": 1},
        swegc_version="0.1.0").to_json()
    row.update(changes)
    return row


ROWS = [instance(12), instance(3, PASS_TO_PASS=["tests/t.py::test_ok"], flaky_tests=["tests/t.py::test_f"])]


def write(out: Path, rows: list[dict[str, Any]] = ROWS, **kwargs: Any) -> Path:
    return write_dataset(out, rows, pretty_name="Demo", description="A demo dataset.", **kwargs)


def test_rewriting_the_same_rows_gives_byte_identical_files(tmp_path: Path) -> None:
    write(tmp_path / "a")
    write(tmp_path / "b", list(reversed(ROWS)))
    write(tmp_path / "a")
    for name in ("data/train-00000-of-00001.parquet", "README.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "a" / "data").iterdir()) == ["train-00000-of-00001.parquet"]


def test_rows_read_back_sorted_and_equal(tmp_path: Path) -> None:
    write(tmp_path)
    assert read_dataset(tmp_path) == sorted(ROWS, key=lambda r: r["instance_id"])


def test_load_dataset_gives_native_lists_and_swebench_columns(tmp_path: Path) -> None:
    import datasets

    write(tmp_path / "out")
    loaded = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    train = loaded["train"]
    assert list(loaded) == ["train"] and train.num_rows == 2
    first = train[0]
    assert first["instance_id"] == "octo__demo-12"
    assert first["FAIL_TO_PASS"] == ["tests/t.py::test_x[a - b]", "tests/t.py::TestC::test_z[x::y]"]
    assert train[1]["PASS_TO_PASS"] == ["tests/t.py::test_ok"] and first["PASS_TO_PASS"] == []
    assert first["pull_number"] == 12 and first["issue_numbers"] == ["7"]
    assert json.loads(first["validation"])["runs"][0]["side"] == "before"
    assert str(train.features["FAIL_TO_PASS"]).startswith(("List(", "Sequence("))


def test_card_front_matter_declares_configs_features_and_sizes(tmp_path: Path) -> None:
    write(tmp_path)
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["configs"] == [{"config_name": "default",
                                 "data_files": [{"split": "train", "path": "data/train-*"}]}]
    features = {f["name"]: f for f in front["dataset_info"]["features"]}
    assert list(features) == list(ROWS[0])
    assert features["FAIL_TO_PASS"] == {"name": "FAIL_TO_PASS", "list": "string"}
    assert features["pull_number"]["dtype"] == "int64" and features["validation"]["dtype"] == "string"
    assert front["dataset_info"]["splits"][0]["num_examples"] == 2
    assert front["pretty_name"] == "Demo" and "swe-bench" in front["tags"] and front["license"]
    assert "| `FAIL_TO_PASS` | list of strings |" in text and "load_dataset(" in text


def test_an_empty_dataset_keeps_the_schema(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = write(tmp_path, [])
    schema = pq.read_schema(path)
    assert str(schema.field("FAIL_TO_PASS").type) == "list<element: string>"
    assert str(schema.field("pull_number").type) == "int64"
    assert read_dataset(tmp_path) == []


def test_a_second_split_is_listed_beside_the_first(tmp_path: Path) -> None:
    write(tmp_path)
    write(tmp_path, [instance(40)], split="test")
    front = yaml.safe_load((tmp_path / "README.md").read_text(encoding="utf-8").split("---\n")[1])
    assert [d["split"] for d in front["configs"][0]["data_files"]] == ["test", "train"]
    assert [r["instance_id"] for r in read_dataset(tmp_path, "test")] == ["octo__demo-40"]


def test_rows_with_unknown_or_missing_columns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown column.*extra"):
        write(tmp_path, [{**ROWS[0], "extra": 1}])
    broken = dict(ROWS[0])
    del broken["image"]
    with pytest.raises(InputError, match="missing column.*image"):
        write(tmp_path, [broken])


def test_features_order_chooses_and_orders_columns(tmp_path: Path) -> None:
    rows = [{"instance_id": "a__b-1", "score": 0.5, "FAIL_TO_PASS": ["x"]}]
    write(tmp_path, rows, features_order=["instance_id", "FAIL_TO_PASS", "score"])
    assert read_dataset(tmp_path) == [{"instance_id": "a__b-1", "FAIL_TO_PASS": ["x"], "score": 0.5}]


def test_jsonl_is_deterministic_and_keeps_unicode(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "sub" / "rows.jsonl", [{"b": 1, "a": "é"}, {"a": [1]}])
    assert path.read_text(encoding="utf-8") == '{"a": "é", "b": 1}\n{"a": [1]}\n'


def test_rows_read_back_as_the_instances_written_whoever_reads_them(tmp_path: Path) -> None:
    import datasets

    written = {row["instance_id"]: Instance.from_json(row) for row in ROWS}
    write(tmp_path / "out")
    assert load_instances(tmp_path / "out") == written
    # datasets.load_dataset keeps the JSON columns as strings: they read the same.
    loaded = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    from_hub = [Instance.from_row(row, "hub") for row in loaded["train"]]
    assert isinstance(loaded["train"][0]["validation"], str)
    assert {i.instance_id: i for i in from_hub} == written
    write_jsonl(tmp_path / "rows.jsonl", ROWS)
    assert load_instances(tmp_path / "rows.jsonl") == written
    assert all(instance.to_json() == row for instance, row in
               zip(load_instances(tmp_path / "out").values(), sorted(ROWS, key=lambda r: r["instance_id"])))


def test_a_row_that_cannot_be_an_instance_is_an_error_that_names_its_line_and_column(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "rows.jsonl", [ROWS[0], instance(5, FAIL_TO_PASS={"not": "a list"})])
    with pytest.raises(InputError, match=r"rows.jsonl:2 \(octo__demo-5\): column 'FAIL_TO_PASS' "
                                         "should be a list of strings, got dict"):
        load_instances(tmp_path / "rows.jsonl")
    write_jsonl(tmp_path / "no_image.jsonl", [instance(6, image="")])
    with pytest.raises(InputError, match=r"no_image.jsonl:1 \(octo__demo-6\): column 'image' has no value"):
        load_instances(tmp_path / "no_image.jsonl", require=("image",))
