"""How a rebuilt published instance is said to compare with what its dataset published."""

from __future__ import annotations

from swegc.compiler.pipeline import compare_with_published, failure_line
from swegc.records import Expected
from swegc.runtime.harness.judging import Judgement
from swegc.runtime.harness.validation import Verdict


def valid(f2p: list[str], p2p: list[str]) -> Verdict:
    return Verdict("valid", None, None, Judgement(FAIL_TO_PASS=f2p, PASS_TO_PASS=p2p), [], 1.0, 1)


def test_ids_swe_bench_cut_at_a_space_match_the_whole_id_and_are_listed():
    ours = valid(["t.py::test_x[a b]"], ["t.py::test_y[1 - 2]", "t.py::test_z"])
    published = Expected("o__r-1", FAIL_TO_PASS=("t.py::test_x[a",),
                         PASS_TO_PASS=("t.py::test_y[1", "t.py::test_z"))
    result = compare_with_published(published, ours)
    assert result["agreement"] == "same"
    assert result["truncated"] == [["t.py::test_x[a", "t.py::test_x[a b]"],
                                   ["t.py::test_y[1", "t.py::test_y[1 - 2]"]]
    other = Expected("o__r-1", FAIL_TO_PASS=("t.py::test_x[c",))
    assert compare_with_published(other, ours)["FAIL_TO_PASS_missing"] == ["t.py::test_x[c"]


def test_one_cut_id_published_for_several_parameters_matches_all_of_them():
    ours = valid(["t.py::test_x[a b]", "t.py::test_x[a c]"], ["t.py::test_y[1 2]", "t.py::test_y[1 3]"])
    published = Expected("o__r-1", FAIL_TO_PASS=("t.py::test_x[a", "t.py::test_x[a"),
                         PASS_TO_PASS=("t.py::test_y[1",))
    result = compare_with_published(published, ours)
    assert result["agreement"] == "same"
    assert result["truncated"] == [["t.py::test_x[a", "t.py::test_x[a b]"],
                                   ["t.py::test_x[a", "t.py::test_x[a c]"],
                                   ["t.py::test_y[1", "t.py::test_y[1 2]"],
                                   ["t.py::test_y[1", "t.py::test_y[1 3]"]]


def test_a_build_failure_on_swegcs_side_is_not_rebuilt_rather_than_no_longer_valid():
    published = Expected("o__r-1", FAIL_TO_PASS=("t.py::test_x",))
    for status, reason in (("rejected", "install_failed"), ("rejected", "env_build_failed"),
                           ("error", "clone_unreadable"), ("error", "infrastructure"),
                           ("rejected", "no_per_test_results")):
        verdict = Verdict.not_validated(status, reason, "pip said no")
        assert compare_with_published(published, verdict)["agreement"] == "not_rebuilt", reason
    ran = Verdict("rejected", "no_fail_to_pass", "", Judgement(reason="no_fail_to_pass"), [], 1.0, 1)
    assert compare_with_published(published, ran)["agreement"] == "no_longer_valid"


def test_an_env_failure_reads_on_one_line_with_its_last_words_and_its_log():
    assert failure_line({"reason": "env_build_failed", "detail": "a\nERROR: no wheel\n\n",
                         "log": "build/logs/images/env-1.log"}) == \
        "env_build_failed: ERROR: no wheel (log: build/logs/images/env-1.log)"
    assert failure_line({"reason": "clone_unreadable", "detail": "", "log": None}) == "clone_unreadable"
