"""Record round trips and the problem statement rule."""

from __future__ import annotations

import pytest

from swegc.errors import InputError
from swegc.records import Candidate, Expected, LinkedIssue, Trajectory


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
