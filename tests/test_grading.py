"""Grading a patch on the compiled example: gold resolves, and no patch can fool the grader."""

from __future__ import annotations

import pytest

from cheat_fixtures import ATTACKS, CHEATS, F2P, FLIP_TO_PASSED, clone_example, make_patch
from swegc.dataset import read_dataset
from swegc.runtime.harness.grading import GradeReport, ResolvedStatus, grade_patch
from swegc.runtime.harness.test_spec import TestSpec

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def rows(example_compile):
    out, _ = example_compile
    return {row["instance_id"]: row for row in read_dataset(out)}


@pytest.fixture(scope="module")
def clone(tmp_path_factory, rows):
    return clone_example(tmp_path_factory.mktemp("calc"))


def spec(rows, iid="example__calc-2") -> TestSpec:
    return TestSpec.from_row(rows[iid])


@pytest.mark.parametrize("iid", ["example__calc-2", "example__calc-8", "example__calc-10"])
def test_the_gold_patch_resolves_every_valid_example_instance(rows, iid, tmp_path):
    report = grade_patch(spec(rows, iid), rows[iid]["patch"], log_path=tmp_path / "log.txt")
    assert report.resolved and report.status is ResolvedStatus.FULL, report
    assert report.patch_applied and not report.empty_patch and report.error is None
    assert set(report.test_report) == set(rows[iid]["FAIL_TO_PASS"]) | set(rows[iid]["PASS_TO_PASS"])
    assert set(report.test_report.values()) == {"PASSED"}
    assert "short test summary info" in (tmp_path / "log.txt").read_text()
    swe = report.to_swebench()[iid]
    assert swe["resolved"] and swe["patch_successfully_applied"]
    assert swe["tests_status"]["FAIL_TO_PASS"] == {"success": rows[iid]["FAIL_TO_PASS"],
                                                   "failure": []}


def test_an_empty_patch_is_unresolved_and_reported_as_empty(rows):
    report = grade_patch(spec(rows), "  \n")
    assert report.empty_patch and not report.resolved and not report.patch_applied
    assert report.to_swebench()["example__calc-2"]["patch_exists"] is False


def test_a_patch_that_does_not_apply_says_so(rows):
    broken = rows["example__calc-2"]["patch"].replace("ordered[len(ordered) // 2]", "nope")
    report = grade_patch(spec(rows), broken)
    assert not report.patch_applied and not report.resolved and report.error is None
    assert "does not apply" in report.patch_problem


@pytest.mark.parametrize("cheat", list(CHEATS))
def test_a_patch_cannot_fool_the_grader(rows, clone, cheat, tmp_path):
    row = rows["example__calc-2"]
    patch = make_patch(clone, row["base_commit"], CHEATS[cheat])
    report = grade_patch(spec(rows), patch, log_path=tmp_path / "log.txt")
    assert report.patch_applied, report.patch_problem
    assert report.error is None
    assert not report.resolved, (report, (tmp_path / "log.txt").read_text()[-3000:])
    assert report.test_report[F2P] != "PASSED"
    for name in CHEATS[cheat]:
        if not name.startswith(("calc/stats", "__")) and not name.endswith("cheat_plugin.py"):
            assert name in report.reverted_files, report.reverted_files


def test_the_gold_patch_with_a_changed_conftest_still_resolves_and_names_what_was_put_back(rows, clone):
    row = rows["example__calc-2"]
    extra = make_patch(clone, row["base_commit"], {"conftest.py": FLIP_TO_PASSED})
    report = grade_patch(spec(rows), row["patch"] + extra)
    assert report.resolved
    assert report.reverted_files == ["conftest.py"]


WRAPS_REPORTS = ATTACKS["wraps TestReport.from_item_and_call at import so a failed test reports passed"]


def test_a_patch_that_wraps_pytests_reports_is_graded_tampered_with_the_evidence(rows, clone, tmp_path):
    row = rows["example__calc-2"]
    patch = make_patch(clone, row["base_commit"], WRAPS_REPORTS)
    report = grade_patch(spec(rows), patch, log_path=tmp_path / "log.txt")
    log = (tmp_path / "log.txt").read_text()
    assert "4 passed" in log  # what pytest said: every channel agreed on the lie
    assert report.patch_applied and report.error is None
    assert report.tampered and not report.resolved and report.status is ResolvedStatus.NO
    assert "_pytest.reports.TestReport.from_item_and_call was replaced or changed" in report.tamper_evidence
    assert f"{F2P}: reported PASSED, but the guard saw FAILED" in report.tamper_evidence
    assert "tampered" in report.run_problem
    swe = report.to_swebench()["example__calc-2"]
    assert swe["tampered"] is True and not swe["resolved"]
    assert swe["tamper_evidence"] == report.tamper_evidence
    assert GradeReport.from_json(report.to_json()) == report  # grade.json keeps it


def test_the_gold_patch_is_not_tampered(rows, tmp_path):
    report = grade_patch(spec(rows), rows["example__calc-2"]["patch"])
    assert report.resolved and not report.tampered and report.tamper_evidence == []
    assert report.to_swebench()["example__calc-2"]["tampered"] is False


def test_validation_rejects_an_instance_whose_fix_tampers_with_pytest(rows, clone, tmp_path):
    from swegc.runtime.harness.validation import ValidationPlan, validate

    row = rows["example__calc-2"]
    fix = row["patch"] + make_patch(clone, row["base_commit"], WRAPS_REPORTS)
    plan = ValidationPlan(instance_id=row["instance_id"], image=row["image"],
                          base_commit=row["base_commit"], test_patch=row["test_patch"],
                          patch=fix, settings=spec(rows).settings, runs=1)
    verdict = validate(plan, tmp_path)
    assert verdict.status == "rejected" and verdict.reason == "tampered", verdict.detail
    assert "TestReport.from_item_and_call was replaced" in verdict.detail
