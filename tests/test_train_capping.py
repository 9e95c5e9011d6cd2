"""Capped selection for RFT and reading trajectory runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from swegc.errors import InputError
from swegc.train.capping import KEPT, OVER_CAP, TOO_LONG, UNRESOLVED, select
from swegc.train.runs import Located, problem_statement, read_problem_statements, read_runs
from swegc.train.toy import toy_trajectory
from tests.train_fixtures import write_run

pytestmark = pytest.mark.train


def _loc(t):
    return Located(f"run.jsonl:{t.run_id}", "run.jsonl", t)


def _pool():
    return [
        toy_trajectory("a__b-1", "long-calls-b", True, steps=3, tokens=100),
        toy_trajectory("a__b-1", "long-calls-a", True, steps=3, tokens=100),
        toy_trajectory("a__b-1", "few-calls-many-tokens", True, steps=2, tokens=900),
        toy_trajectory("a__b-1", "long-calls-few-tokens", True, steps=3, tokens=50),
        toy_trajectory("a__b-1", "failed-short", False, steps=1, tokens=10),
        toy_trajectory("a__b-2", "too-long", True, steps=1, tokens=10),
        toy_trajectory("a__b-2", "fits", True, steps=4, tokens=10),
        toy_trajectory("a__b-3", "only-failures", False, steps=1, tokens=10),
    ]


def _length(t):
    return 5000 if t.run_id == "too-long" else 100


def test_capping_keeps_fewest_calls_then_fewest_tokens_then_run_id():
    sel = select([_loc(t) for t in _pool()], cap=2, max_length=1000, length_of=_length)
    kept = [(loc.trajectory.instance_id, loc.trajectory.run_id) for loc in sel.kept]
    assert kept == [("a__b-1", "few-calls-many-tokens"), ("a__b-1", "long-calls-few-tokens"),
                    ("a__b-2", "fits")]
    by_run = {d.run_id: d for d in sel.decisions}
    assert by_run["long-calls-a"].decision == OVER_CAP and by_run["long-calls-b"].decision == OVER_CAP
    assert by_run["failed-short"].decision == UNRESOLVED
    assert by_run["too-long"].decision == TOO_LONG and "5000 tokens > max length 1000" in by_run["too-long"].reason
    assert len(sel.decisions) == len(_pool())
    assert "kept 3 of 8 trajectories (2 of 3 instances)" in sel.summary()


def test_capping_with_cap_three_breaks_the_tie_by_run_id_whatever_the_input_order():
    pool = [_loc(t) for t in _pool()]
    results = set()
    for seed in range(5):
        random.Random(seed).shuffle(pool)
        sel = select(pool, cap=3, max_length=1000, length_of=_length)
        results.add(tuple(loc.trajectory.run_id for loc in sel.kept))
    assert results == {("few-calls-many-tokens", "long-calls-few-tokens", "long-calls-a", "fits")}


def test_an_over_long_trajectory_is_dropped_and_the_next_one_takes_its_place():
    pool = [_loc(toy_trajectory("x__y-1", f"r{i}", True, steps=1 + i)) for i in range(3)]
    sel = select(pool, cap=1, max_length=100, length_of=lambda t: 500 if t.run_id == "r0" else 50)
    assert [loc.trajectory.run_id for loc in sel.kept] == ["r1"]
    assert [d.decision for d in sel.decisions] == [TOO_LONG, KEPT, OVER_CAP]


def test_runs_are_read_from_jsonl_files_and_hub_layout_folders(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    trajs = [toy_trajectory("o__r-1", f"r{i}", i % 2 == 0) for i in range(3)]
    write_run(tmp_path / "a.jsonl", trajs)
    hub = tmp_path / "hub" / "data"
    hub.mkdir(parents=True)
    rows = [t.to_json() for t in trajs]
    for row in rows:  # a Hub writer may keep nested columns as JSON strings
        for key in ("policy", "messages", "tools", "test_report"):
            row[key] = json.dumps(row[key])
    pq.write_table(pa.Table.from_pylist(rows), hub / "train-00000-of-00001.parquet")
    runs = read_runs([str(tmp_path / "a.jsonl"), str(tmp_path / "hub")])
    assert len(runs) == 6
    assert runs[0].where.endswith("a.jsonl:1") and "#row0" in runs[3].where
    assert runs[3].trajectory == trajs[0]


def test_a_bad_trajectory_row_is_reported_with_its_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(toy_trajectory("o__r-1", "r0", True).to_json()) + "\n"
                    + json.dumps({"instance_id": "o__r-1", "run_id": "r1", "policy": {}, "messages": [],
                                  "exit_status": "exploded"}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2: exit_status 'exploded'"):
        read_runs([str(path)])
    with pytest.raises(InputError, match="no such file"):
        read_runs([str(tmp_path / "missing.jsonl")])


def test_problem_statement_comes_from_instances_or_else_the_first_user_message(tmp_path: Path):
    traj = toy_trajectory("o__r-7", "r0", True)
    assert problem_statement(traj).startswith("Fix the bug in o__r_7.py")
    path = tmp_path / "instances.jsonl"
    path.write_text(json.dumps({"instance_id": "o__r-7", "problem_statement": "The real issue"}) + "\n")
    assert problem_statement(traj, read_problem_statements(str(path))) == "The real issue"


def test_an_instance_without_a_problem_statement_is_an_error_at_its_line(tmp_path: Path):
    path = tmp_path / "instances.jsonl"
    path.write_text(json.dumps({"instance_id": "o__r-7", "problem_statement": "x"}) + "\n"
                    + json.dumps({"instance_id": "o__r-8"}) + "\n")
    with pytest.raises(InputError, match=r"instances.jsonl:2 \(o__r-8\): column 'problem_statement' "
                                         "has no value"):
        read_problem_statements(str(path))


def test_a_resolved_trajectory_flagged_suspicious_is_left_out_unless_asked():
    from dataclasses import replace

    from swegc.train.capping import SUSPICIOUS

    finding = {"file": "calc/stats.py", "line": 3, "rule": "atexit", "detail": "imports atexit"}
    flagged = replace(toy_trajectory("a__b-1", "flagged", True, steps=1, tokens=10),
                      suspicious=[finding])
    clean = toy_trajectory("a__b-1", "clean", True, steps=3, tokens=10)
    runs = [_loc(flagged), _loc(clean)]
    selection = select(runs, cap=2, max_length=1000, length_of=_length)
    assert [loc.trajectory.run_id for loc in selection.kept] == ["clean"]
    decision = next(d for d in selection.decisions if d.run_id == "flagged")
    assert decision.decision == SUSPICIOUS and "calc/stats.py:3 atexit" in decision.reason
    assert "1 suspicious" in selection.summary()
    asked = select(runs, cap=2, max_length=1000, length_of=_length, include_suspicious=True)
    assert [loc.trajectory.run_id for loc in asked.kept] == ["flagged", "clean"]
