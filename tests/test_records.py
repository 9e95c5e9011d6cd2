"""Record round trips and the problem statement rule."""

from __future__ import annotations

import json

import pytest

from swegc.errors import InputError
from swegc.reasons import ExitStatus
from swegc.records import Candidate, Expected, Instance, LinkedIssue, Trajectory
from swegc.runtime.agent import AgentResult


def test_the_problem_statement_is_the_linked_issues_text_else_the_pull_request():
    pr = Candidate(repo="a/b", number=3, base_commit="abc", title="Fix x", body="Details.", diff="d")
    assert pr.problem_statement == "Fix x\nDetails.\n"
    linked = Candidate(repo="a/b", number=3, base_commit="abc", title="Fix x", diff="d",
                       issues=(LinkedIssue(1, "x breaks", "When y."), LinkedIssue(2, "z", "")))
    assert linked.problem_statement == "x breaks\nWhen y.\nz\n"
    published = Candidate(repo="a/b", number=3, base_commit="abc", body="As published\n",
                          patch="p", test_patch="t", source="instances")
    assert published.problem_statement == "As published\n"


def test_a_candidate_survives_a_json_round_trip():
    original = Candidate(repo="a/b", number=3, base_commit="abc", diff="d", labels=("bug",),
                         issues=(LinkedIssue(1, "t", "b"),),
                         expected=Expected("a__b-3", FAIL_TO_PASS=("t1",)))
    assert Candidate.from_json(original.to_json()) == original
    assert original.instance_id == "a__b-3"


def test_a_candidate_record_with_an_unknown_field_or_no_change_is_refused_with_its_place():
    with pytest.raises(InputError, match="prs.jsonl:4: unknown candidate field"):
        Candidate.from_json({"repo": "a/b", "number": 1, "base_commit": "c", "diff": "d",
                             "numbr": 2}, where="prs.jsonl:4")
    with pytest.raises(InputError, match="neither 'diff' nor 'merge_commit'"):
        Candidate.from_json({"repo": "a/b", "number": 1, "base_commit": "c"})


def test_a_trajectory_with_an_unknown_exit_status_is_refused():
    with pytest.raises(InputError, match="exit_status"):
        Trajectory.from_json({"instance_id": "a", "run_id": "r", "policy": {}, "messages": [],
                              "exit_status": "crashed"})


def test_a_row_of_an_older_schema_or_another_tool_reads_as_an_instance_with_defaults():
    # Version 2: swegc's parser was `log_parser`, its options `parser_options`.
    old = Instance.from_row({"instance_id": "o__r-4", "schema_version": 2, "log_parser": "regex",
                             "parser_options": '{"passed": "ok (.*)"}', "test_command": "make test"})
    assert (old.tests.parser, old.tests.parser_options, old.log_parser) == \
        ("regex", {"passed": "ok (.*)"}, "")
    assert (old.schema_version, old.pull_number, old.tests.timeout_s, old.tests.env) == (2, 4, 900, {})
    # SWE-bench's older datasets: lists as JSON text, a version read as a number, extra columns.
    swebench = Instance.from_row({"instance_id": "a__b-12", "FAIL_TO_PASS": '["t::x"]',
                                  "PASS_TO_PASS": "[]", "version": 0.2, "difficulty": "easy"})
    assert (swebench.FAIL_TO_PASS, swebench.PASS_TO_PASS, swebench.version) == (["t::x"], [], "0.2")


def test_a_row_of_an_unknown_schema_or_without_an_id_is_refused_with_its_place():
    with pytest.raises(InputError, match=r"run.jsonl:3 \(a__b-1\): instance schema_version 99 is not "
                                         "supported"):
        Instance.from_row({"instance_id": "a__b-1", "schema_version": 99}, where="run.jsonl:3")
    with pytest.raises(InputError, match=r"run.jsonl:4: the row has no 'instance_id'"):
        Instance.from_row({"repo": "a/b"}, where="run.jsonl:4")
    with pytest.raises(InputError, match=r"column 'test_network' should be true or false"):
        Instance.from_row({"instance_id": "a__b-1", "test_network": "yes"})


def test_an_agent_result_survives_the_store_and_one_stored_before_stats_still_reads():
    result = AgentResult(ExitStatus.STUCK, [{"role": "user", "content": "x"}], [], "diff", 4, 10, 5,
                         0.5, 1.5, None, {"format_errors": 1}, {"name": "scripted"})
    assert AgentResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    older = {k: v for k, v in result.to_json().items() if k != "stats"}
    assert AgentResult.from_json(older).exit_status is ExitStatus.STUCK
