"""Validation semantics: from parsed runs to FAIL_TO_PASS, PASS_TO_PASS, flaky, or a reason."""

from __future__ import annotations

from swegc.runtime.harness.judging import judge
from swegc.runtime.harness.parsers import ERROR, FAILED, PASSED, SKIPPED, XFAIL, XPASS, ParseResult, get_parser
from swegc.runtime.harness.trust import ObservedRun

PYTEST = get_parser("pytest")


def run(side, attempt, statuses, exit_code=None, collection_errors=(), summary=True, timed_out=False):
    if exit_code is None:
        failing = any(s in (FAILED, ERROR) for s in statuses.values()) or collection_errors
        exit_code = 1 if failing else 0
    return ObservedRun(side, attempt, exit_code, 0.1,
                       ParseResult(dict(statuses), tuple(collection_errors), summary), timed_out)


def test_a_test_failing_before_and_passing_after_is_fail_to_pass_and_stable_passes_are_pass_to_pass():
    before = [run("before", i, {"t::a": FAILED, "t::b": PASSED, "t::c": SKIPPED}) for i in (1, 2)]
    after = [run("after", i, {"t::a": PASSED, "t::b": PASSED, "t::c": SKIPPED}) for i in (1, 2)]
    result = judge(before, after, PYTEST)
    assert result.valid
    assert result.FAIL_TO_PASS == ["t::a"]
    assert result.PASS_TO_PASS == ["t::b"]
    assert result.flaky_tests == []


def test_a_test_absent_before_counts_as_failing_and_xfail_counts_as_passing():
    before = [run("before", 1, {"t::old": PASSED}, collection_errors=("t_new.py",))]
    after = [run("after", 1, {"t::old": PASSED, "t_new.py::x": PASSED, "t::xf": XFAIL})]
    result = judge(before, after, PYTEST)
    assert result.FAIL_TO_PASS == ["t::xf", "t_new.py::x"]
    assert result.PASS_TO_PASS == ["t::old"]


def test_a_test_whose_status_differs_between_runs_of_one_side_is_flaky_and_in_neither_list():
    before = [run("before", 1, {"t::a": FAILED, "t::flip": PASSED}),
              run("before", 2, {"t::a": FAILED, "t::flip": FAILED})]
    after = [run("after", i, {"t::a": PASSED, "t::flip": PASSED}) for i in (1, 2)]
    result = judge(before, after, PYTEST)
    assert result.valid
    assert result.flaky_tests == ["t::flip"]
    assert "t::flip" not in result.FAIL_TO_PASS + result.PASS_TO_PASS


def test_an_instance_whose_only_candidate_is_flaky_has_no_fail_to_pass():
    before = [run("before", 1, {"t::f": FAILED}), run("before", 2, {"t::f": PASSED})]
    after = [run("after", i, {"t::f": PASSED}) for i in (1, 2)]
    result = judge(before, after, PYTEST)
    assert result.reason == "no_fail_to_pass"
    assert "1 flaky" in result.detail


def test_tests_passing_on_both_sides_only_give_no_fail_to_pass():
    before = [run("before", 1, {"t::a": PASSED})]
    after = [run("after", 1, {"t::a": PASSED})]
    assert judge(before, after, PYTEST).reason == "no_fail_to_pass"


def test_a_test_broken_by_the_fix_is_pass_to_fail_not_pass_to_pass():
    before = [run("before", 1, {"t::a": FAILED, "t::b": PASSED})]
    after = [run("after", 1, {"t::a": PASSED, "t::b": FAILED})]
    result = judge(before, after, PYTEST)
    assert result.PASS_TO_FAIL == ["t::b"] and result.PASS_TO_PASS == []


def test_runs_that_cannot_be_trusted_reject_the_instance_with_the_reason():
    ok_before = run("before", 1, {"t::a": FAILED})
    ok_after = run("after", 1, {"t::a": PASSED})
    cases = {
        "timeout": run("after", 1, {"t::a": PASSED}, timed_out=True, exit_code=124),
        "suite_did_not_run": run("after", 1, {}, exit_code=4),
        "suite_incomplete": run("after", 1, {"t::a": PASSED}, summary=False),
        "after_collection_error": run("after", 1, {"t::a": PASSED}, collection_errors=("t/x.py",)),
    }
    for reason, bad_after in cases.items():
        assert judge([ok_before], [bad_after], PYTEST).reason == reason, reason
    no_output = run("before", 1, {}, exit_code=1)
    assert judge([no_output], [ok_after], PYTEST).reason == "suite_did_not_run"


def test_a_summary_with_counts_but_no_per_test_line_names_the_runner_and_the_fix():
    log = ("platform linux -- Python 3.6.15, pytest-3.5.1, py-1.11.0, pluggy-0.6.0\n"
           "tests/test_m.py .F.....................   [100%]\n"
           "===================== 1 failed, 22 passed in 0.12 seconds ======================\n")
    counted_only = ObservedRun("before", 1, 1, 0.1, PYTEST.parse(log))
    result = judge([counted_only], [run("after", 1, {"t::a": PASSED})], PYTEST)
    assert result.reason == "no_per_test_results"
    assert result.detail == (
        "before run 1: the runner printed its summary ('1 failed, 22 passed in 0.12 seconds') "
        "but no per-test results by pytest 3.5.1, Python 3.6.15 (exit 1); add -v to "
        "tests.command (every pytest prints a line per test with it; an old pytest ignores the "
        "A of -rA), or a report option this pytest knows, such as -rfEp")
    nothing_ran = ObservedRun("before", 1, 1, 0.1, PYTEST.parse("==== no tests ran in 0.01s ===="))
    assert judge([nothing_ran], [run("after", 1, {"t::a": PASSED})], PYTEST).reason == \
        "suite_did_not_run"


def test_an_exit_code_that_disagrees_with_the_parsed_results_is_rejected():
    before = [run("before", 1, {"t::a": FAILED})]
    crashed_after = [run("after", 1, {"t::a": PASSED}, exit_code=139)]
    assert judge(before, crashed_after, PYTEST).reason == "exit_code_mismatch"
    lying_before = [run("before", 1, {"t::a": FAILED}, exit_code=0)]
    assert judge(lying_before, [run("after", 1, {"t::a": PASSED})], PYTEST).reason == "exit_code_mismatch"


def test_a_non_strict_xpass_with_exit_code_zero_is_not_a_mismatch_and_not_passing():
    before = [run("before", 1, {"t::a": FAILED, "t::x": XPASS}, exit_code=1)]
    after = [run("after", 1, {"t::a": PASSED, "t::x": XPASS}, exit_code=0)]
    result = judge(before, after, PYTEST)
    assert result.valid
    assert result.FAIL_TO_PASS == ["t::a"]
    assert "t::x" not in result.PASS_TO_PASS


def test_an_unexpected_success_makes_a_non_zero_exit_legitimate_as_unittest_does():
    before = [run("before", 1, {"m.T.test_a": FAILED, "m.T.test_x": XPASS}, exit_code=1)]
    after = [run("after", 1, {"m.T.test_a": PASSED, "m.T.test_x": XPASS}, exit_code=1)]
    result = judge(before, after, get_parser("unittest"))
    assert result.valid and result.FAIL_TO_PASS == ["m.T.test_a"]


def test_tests_of_other_files_do_not_become_fail_to_pass_when_a_collection_error_stopped_the_session():
    # before: pytest stops the whole session on test_a.py's import error; nothing ran.
    before = [run("before", 1, {"tests/test_a.py": ERROR}, exit_code=2,
                  collection_errors=("tests/test_a.py",))]
    after = [run("after", 1, {"tests/test_a.py::test_new": PASSED,
                              "tests/test_b.py::test_old": PASSED})]
    result = judge(before, after, PYTEST)
    assert result.FAIL_TO_PASS == ["tests/test_a.py::test_new"]
    assert result.PASS_TO_PASS == []
    assert result.unknown_before == ["tests/test_b.py::test_old"]


def test_a_collection_error_in_one_file_while_others_ran_keeps_fail_to_pass_for_its_tests():
    before = [run("before", 1, {"tests/test_a.py": ERROR, "tests/test_b.py::test_old": PASSED},
                  exit_code=1, collection_errors=("tests/test_a.py",))]
    after = [run("after", 1, {"tests/test_a.py::test_new": PASSED,
                              "tests/test_b.py::test_old": PASSED})]
    result = judge(before, after, PYTEST)
    assert result.FAIL_TO_PASS == ["tests/test_a.py::test_new"]
    assert result.PASS_TO_PASS == ["tests/test_b.py::test_old"]
