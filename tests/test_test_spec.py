"""A test spec from the dataset row alone, and the grading rules, without Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swegc.dataset import read_dataset, write_dataset
from swegc.errors import InputError
from swegc.records import Instance
from swegc.runtime.harness.grading import GradeReport, ResolvedStatus, grade, resolution, tests_status
from swegc.runtime.harness.guard import graded_test_files
from swegc.runtime.harness.protected_files import Settings, by_name
from swegc.runtime.harness.parsers import get_parser
from swegc.runtime.harness.test_spec import TestSpec
from swegc.test_settings import TestSettings
from swegc.runtime.harness.trust import cross_check, junit_key, junit_statuses, summary_problem

TEST_PATCH = """\
diff --git a/tests/test_a.py b/tests/test_a.py
--- a/tests/test_a.py
+++ b/tests/test_a.py
@@ -1 +1,2 @@
 x = 1
+y = 2
diff --git a/tests/old.py b/tests/new.py
similarity index 100%
rename from tests/old.py
rename to tests/new.py
diff --git a/tests/data/gone.txt b/tests/data/gone.txt
deleted file mode 100644
--- a/tests/data/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
"""


def row(**changes: Any) -> dict[str, Any]:
    settings = TestSettings(test_command="pytest -rA tests/test_a.py",
                            test_directives=("tests/test_a.py",), parser="pytest", timeout_s=120,
                            network=True, env={"LANG": "C.UTF-8"})
    data = Instance(
        instance_id="octo__demo-1", repo="octo/demo", base_commit="a" * 40, patch="diff\n",
        test_patch=TEST_PATCH, problem_statement="p", hints_text="", created_at="", version="1",
        environment_setup_commit="a" * 40, FAIL_TO_PASS=["tests/test_a.py::test_x"],
        PASS_TO_PASS=["tests/test_a.py::test_y"], pull_number=1, issue_numbers=[],
        image="swegc-inst/octo__demo-1:abc", image_id="sha256:1", spec_hash="s",
        log_parser="parse_log_pytest", flaky_tests=[], validation={}, swegc_version="0",
        tests=settings).to_json()
    data.update(changes)
    return data


def test_a_row_gives_every_setting_grading_needs():
    spec = TestSpec.from_row(row())
    assert spec.image == "swegc-inst/octo__demo-1:abc" and spec.base_commit == "a" * 40
    settings = spec.settings
    assert settings.test_command == "pytest -rA tests/test_a.py" and settings.parser == "pytest"
    assert settings.timeout_s == 120 and settings.network is True
    assert settings.env == {"LANG": "C.UTF-8"}
    assert spec.test_files == ("tests/test_a.py", "tests/old.py", "tests/new.py",
                               "tests/data/gone.txt")
    assert spec.fail_to_pass == ("tests/test_a.py::test_x",)


def test_a_row_read_back_by_load_dataset_gives_the_same_spec(tmp_path: Path):
    from datasets import load_dataset

    write_dataset(tmp_path, [row(swegc_parser_options=None)], pretty_name="d", description="d")
    loaded = load_dataset(str(tmp_path), split="train")[0]
    assert isinstance(loaded["test_env"], str)  # JSON text, as the card says
    assert TestSpec.from_row(loaded) == TestSpec.from_row(read_dataset(tmp_path)[0]) \
        == TestSpec.from_row(row())
    assert loaded["test_network"] is True and loaded["test_timeout_s"] == 120


def test_a_row_from_before_the_settings_columns_is_graded_with_the_defaults():
    old = row(schema_version=1, log_parser="pytest")
    for column in ("swegc_log_parser", "swegc_parser_options", "test_timeout_s", "test_network",
                   "test_env", "test_file_globs", "image_tag", "image_name", "docker_image",
                   "eval_script", "eval_type"):
        del old[column]
    spec = TestSpec.from_row(old)
    assert spec.settings.parser == "pytest"
    assert spec.settings.timeout_s == 900 and spec.settings.network is False
    assert spec.settings.env == {} and spec.settings.file_globs == ()
    assert Instance.from_json(old).tests.timeout_s == 900


REGEX = {"pattern": r"^(?P<status>ok|FAIL) (?P<test>\S+)$"}
SETTINGS = TestSettings(test_command="make check", test_directives=("t/a.t",), parser="regex",
                        parser_options=REGEX, timeout_s=60, network=False, env={"A": "1"},
                        prepare=("make",), file_globs=("t/**",))


def test_every_test_setting_travels_through_its_row_columns_and_back():
    columns = SETTINGS.row_columns()
    assert TestSettings.from_row(columns) == SETTINGS
    assert TestSettings.from_row(json.loads(json.dumps(columns))) == SETTINGS
    assert columns["test_file_globs"] == ["t/**"] and columns["swegc_log_parser"] == "regex"


@pytest.mark.parametrize("field, value", [
    ("test_command", "make test"), ("test_directives", ("t/b.t",)), ("parser", "pytest"),
    ("parser_options", {**REGEX, "summary": "^done$"}), ("timeout_s", 61), ("network", True),
    ("env", {"A": "2"}), ("prepare", ()), ("file_globs", ("tests/**",)),
])
def test_changing_any_test_setting_changes_the_key_that_units_and_rollouts_hash(field, value):
    from dataclasses import fields, replace

    assert {f.name for f in fields(TestSettings)} >= {field}
    changed = replace(SETTINGS, **{field: value}, **({"parser_options": None}
                                                     if value == "pytest" else {}))
    assert changed.key() != SETTINGS.key()
    assert replace(SETTINGS).key() == SETTINGS.key()


def test_the_parametrized_key_test_names_every_test_setting():
    from dataclasses import fields

    named = {"test_command", "test_directives", "parser", "parser_options", "timeout_s",
             "network", "env", "prepare", "file_globs"}
    assert {f.name for f in fields(TestSettings)} == named, "add the new setting to the test above"


@pytest.mark.parametrize("changes, message", [
    ({"image": None}, "octo__demo-1): missing column 'image'"),
    ({"test_timeout_s": "soon"}, "column 'test_timeout_s' should be a positive whole number"),
    ({"FAIL_TO_PASS": [1]}, "column 'FAIL_TO_PASS' should be a list of strings"),
    ({"test_env": "{not json"}, "column 'test_env' should be an object (or its JSON)"),
    ({"swegc_log_parser": "nose"}, "unknown log parser 'nose'"),
    ({"test_patch": "not a diff\n@@ -1 +1 @@\n"}, "octo__demo-1"),
])
def test_a_bad_row_is_refused_naming_the_instance_and_the_column(changes, message):
    with pytest.raises(InputError, match=None) as caught:
        TestSpec.from_row(row(**changes), where="data.jsonl:3")
    assert message in str(caught.value) and "data.jsonl:3" in str(caught.value)


def test_an_unknown_row_schema_is_refused():
    with pytest.raises(InputError, match="schema_version 99"):
        Instance.from_json(row(schema_version=99))


def test_resolution_follows_swebench_with_skipped_tests_counting_as_failures():
    spec = TestSpec.from_row(row(FAIL_TO_PASS=["f1", "f2"], PASS_TO_PASS=["p"]))
    assert resolution(tests_status(spec, {"f1": "PASSED", "f2": "XFAIL", "p": "PASSED"})) \
        is ResolvedStatus.FULL
    assert resolution(tests_status(spec, {"f1": "PASSED", "p": "PASSED"})) is ResolvedStatus.PARTIAL
    assert resolution(tests_status(spec, {"f1": "PASSED", "f2": "PASSED"})) is ResolvedStatus.NO
    report = grade(spec, {"f1": "PASSED", "f2": "SKIPPED", "p": "PASSED"}, patch_applied=True,
                   empty_patch=False)
    assert not report.resolved and report.tests_status.FAIL_TO_PASS["failure"] == ["f2"]
    assert report.test_report == {"f1": "PASSED", "f2": "SKIPPED", "p": "PASSED"}
    assert GradeReport.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_test_infrastructure_is_recognised_and_ordinary_code_is_not():
    for path in ("conftest.py", "pkg/tests/conftest.py", "pytest.ini", "tox.ini", "setup.cfg",
                 "sub/pyproject.toml", "sitecustomize.py", "src/usercustomize.py", "x/evil.pth",
                 "pkg/__pycache__/m.cpython-311.pyc", "calc.egg-info/entry_points.txt",
                 "pytest.py", "_pytest/main.py", "tests/test_ops.py", "pkg/ops_test.py"):
        assert by_name(path), path
    for path in ("calc/ops.py", "src/_pytest/main.py", "docs/testing.rst", "README.md"):
        assert by_name(path) is None, path
    assert by_name("tests/data.json", Settings({"base": "", "test_files": ["tests/data.json"]}))
    assert graded_test_files(["tests/a.py::test_x[1::2]", "test_y (m.C)"]) == {"tests/a.py"}


SUMMARY = """\
tests/t.py .F                                                    [100%]
=========================== short test summary info ============================
PASSED tests/t.py::test_a
FAILED tests/t.py::test_b - assert 1 == 2
SKIPPED [2] tests/t.py:9: later
========================= 1 failed, 1 passed, 2 skipped in 0.05s =========================
"""
JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="2">
<testcase classname="tests.t" name="test_a" time="0.001"/>
<testcase classname="tests.t" name="test_b" time="0.001"><failure message="x">x</failure></testcase>
<testcase classname="tests.t.TestC" name="test_c[a::b]" time="0"><skipped type="pytest.xfail"/></testcase>
</testsuite></testsuites>"""


def test_the_summary_counts_must_match_the_runners_own_result_lines():
    assert summary_problem(SUMMARY) is None
    forged_after = SUMMARY + "PASSED tests/t.py::test_b\n===== 2 passed in 0.01s =====\n"
    assert "more than one final counts line" in summary_problem(forged_after)
    padded = SUMMARY.replace("PASSED tests/t.py::test_a\n",
                             "PASSED tests/t.py::test_a\nPASSED tests/t.py::test_b\n")
    assert "do not match" in summary_problem(padded)


def test_junit_names_match_pytest_node_ids():
    assert junit_key("tests/t.py::TestC::test_c[a::b]") == ("tests.t.TestC", "test_c[a::b]")
    assert junit_statuses(JUNIT) == {("tests.t", "test_a"): "PASSED",
                                     ("tests.t", "test_b"): "FAILED",
                                     ("tests.t.TestC", "test_c[a::b]"): "XFAIL"}
    assert junit_statuses("PASSED everything") is None


def test_a_test_passes_only_when_the_log_and_the_junit_report_agree():
    parser = get_parser("pytest")
    parsed = parser.parse(SUMMARY)
    trusted = cross_check(parser, parsed, SUMMARY, 1, JUNIT)
    assert trusted.problem is None and trusted.statuses["tests/t.py::test_a"] == "PASSED"
    lying = JUNIT.replace('name="test_a" time="0.001"/>',
                          'name="test_a" time="0.001"><error message="e"/></testcase>')
    assert cross_check(parser, parsed, SUMMARY, 1, lying).statuses[
        "tests/t.py::test_a"] == "ERROR"
    assert "no JUnit report" in cross_check(parser, parsed, SUMMARY, 1, None).problem
    assert "exit code 0" in cross_check(parser, parsed, SUMMARY, 0, JUNIT).problem
