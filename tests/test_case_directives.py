"""Test-case names as directives: which cases of data files a pull request adds or changes."""

from __future__ import annotations

import textwrap

from swegc.compiler.case_directives import case_warnings, changed_cases, command_with_cases
from swegc.compiler.patches import read_diff, split_patch
from swegc.compiler.plan import PlannedInstance, plan_candidate
from swegc.compiler.spec.loader import load_specs
from swegc.compiler.spec.model import CaseDirectives
from swegc.errors import SpecError
from swegc.git import GitRepo
from swegc.records import Candidate
from swegc.runtime.harness.directive_results import directives_without_results

RULE = CaseDirectives(cases=r"^\[case (?P<name>[A-Za-z0-9_]+)", join=" or ", option="-k")
GLOBS = ("test-data/**/*.test",)


def case(name: str, body_lines: int = 6, marker: str = "x") -> str:
    """A case block whose body is long enough that a change at its end is out of the diff's
    three lines of context around the header."""
    body = "".join(f"line{i} = {marker if i == body_lines - 1 else i}\n" for i in range(body_lines))
    return f"[case {name}]\n{body}[out]\n\n"


def cases_repo(git_builder, after: dict[str, str | None]) -> tuple[GitRepo, str, str]:
    base = git_builder.commit("base", {
        "lib/core.py": "X = 1\n",
        "test-data/check-a.test": "-- preamble\n\n" + case("testA1") + case("testA2") + case("testA3"),
        "test-data/check-b.test": case("testB1") + case("testB2-skip"),
        "test-data/check-gone.test": case("testGone"),
        "tests/test_data.py": "def test_x():\n    pass\n"})
    head = git_builder.commit("fix (#7)", {"lib/core.py": "X = 2\n", **after})
    return GitRepo.open(git_builder.path), base, head


def names_for(git_builder, after: dict[str, str | None], readable: bool = True) -> list[str]:
    repo, base, head = cases_repo(git_builder, after)
    test_patch = split_patch(read_diff(repo, base, head), ["test-data/**", "tests/**"]).test_patch

    def read_base(path: str) -> str | None:
        data = repo.show_file(base, path) if readable else None
        return None if data is None else data.decode()

    return changed_cases(test_patch, RULE, GLOBS, read_base)


def test_an_added_case_is_named_by_its_header(git_builder):
    after = {"test-data/check-a.test": "-- preamble\n\n" + case("testA1") + case("testA2")
             + case("testNew") + case("testA3")}
    assert names_for(git_builder, after) == ["testNew"]


def test_a_case_appended_after_a_new_blank_line_does_not_name_the_case_above(git_builder):
    base = "-- preamble\n\n" + case("testA1") + case("testA2") + case("testA3")
    after = {"test-data/check-a.test": base + "\n" + case("testNew")}
    repo, base_commit, head = cases_repo(git_builder, after)
    test_patch = split_patch(read_diff(repo, base_commit, head), ["test-data/**"]).test_patch
    assert "+\n+[case testNew]" in test_patch  # the blank line above the new header is added
    assert names_for(git_builder, after) == ["testNew"]


def test_a_case_whose_body_changed_far_below_its_unchanged_header_is_named(git_builder):
    # The changed line is the body's last: its header is out of the hunk's context.
    after = {"test-data/check-a.test": "-- preamble\n\n" + case("testA1")
             + case("testA2", marker="changed") + case("testA3")}
    repo, base, head = cases_repo(git_builder, after)
    test_patch = split_patch(read_diff(repo, base, head), ["test-data/**"]).test_patch
    assert "[case testA2]" not in test_patch  # what SWE-Gym's regex over the diff would miss
    assert names_for(git_builder, after) == ["testA2"]  # the same change again on top


def test_a_deleted_case_is_not_run_and_its_neighbours_are_not_either(git_builder):
    after = {"test-data/check-a.test": "-- preamble\n\n" + case("testA1") + case("testA3"),
             "test-data/check-gone.test": None}
    assert names_for(git_builder, after) == []


def test_a_renamed_case_runs_under_its_new_name_only(git_builder):
    after = {"test-data/check-b.test": case("testB1") + case("testB2Renamed-skip")}
    assert names_for(git_builder, after) == ["testB2Renamed"]


def test_cases_of_several_files_are_named_once_each_in_order_and_other_files_are_not_read(git_builder):
    after = {"test-data/check-a.test": "-- preamble changed\n\n" + case("testA1", marker="y")
             + case("testA2") + case("testA3", marker="z") + case("testA4"),
             "test-data/check-b.test": case("testB1", marker="y") + case("testB2-skip"),
             "tests/test_data.py": "def test_x():\n    pass\n\n\ndef test_y():\n    pass\n"}
    assert names_for(git_builder, after) == ["testA1", "testA3", "testA4", "testB1"]


def test_without_the_base_file_each_hunk_is_read_alone(git_builder):
    after = {"test-data/check-a.test": "-- preamble\n\n" + case("testA1")
             + case("testA2", marker="changed") + case("testNew") + case("testA3")}
    # testA2's changed line is out of reach of its header; testNew's header is in the hunk.
    assert names_for(git_builder, after, readable=False) == ["testNew"]


def test_the_names_go_into_one_quoted_argument_after_the_option():
    assert command_with_cases("pytest -rA", RULE, ["testA", "testB"]) == "pytest -rA -k 'testA or testB'"
    assert command_with_cases("pytest -rA", RULE, []) == "pytest -rA"
    names_only = CaseDirectives(cases=RULE.cases, join=",")
    assert command_with_cases("run", names_only, ["a", "b;rm"]) == "run 'a,b;rm'"


def test_no_changed_case_or_a_case_file_left_out_is_warned_about(git_builder):
    repo, base, head = cases_repo(git_builder, {
        "test-data/check-a.test": "-- preamble changed\n\n" + case("testA1") + case("testA2")
        + case("testA3")})
    test_patch = split_patch(read_diff(repo, base, head), ["test-data/**"]).test_patch
    assert changed_cases(test_patch, RULE, GLOBS, lambda path: None) == []
    warnings = case_warnings(test_patch, RULE, GLOBS, [])
    assert len(warnings) == 1 and warnings[0].startswith("no changed test case was found")
    assert "the whole test suite runs" in warnings[0]

    repo, base, head = cases_repo(git_builder, {"test-data/check-b.test": case("testB1")
                                                + case("testB2-skip") + case("testB3")})
    test_patch = split_patch(read_diff(repo, base, head), ["test-data/**"]).test_patch
    assert case_warnings(test_patch, RULE, ("other/**/*.test",), ["testX"]) == [
        "test-data/check-b.test changes tests but is not run: tests.directive_files "
        "(other/**/*.test) does not match it"]


def spec_text(clone, directives: str) -> str:
    return textwrap.dedent(f"""\
        extends: swegc:pytest
        repo: acme/lib
        source: {{clone: {clone}, jsonl: c.jsonl}}
        tests:
          files: ["test-data/**", "tests/**"]
          command: "pytest -rA -p no:cacheprovider"
          directive_files: ["test-data/**/*.test"]
          directives: {directives}
        version: {{from: fixed, value: "1.0"}}
        environments: [{{python: "3.11"}}]
        """)


def test_a_planned_instance_runs_the_changed_cases_by_name_and_keeps_them_as_its_directives(
        git_builder, tmp_path):
    repo, base, head = cases_repo(git_builder, {
        "test-data/check-a.test": "-- preamble\n\n" + case("testA1") + case("testA2", marker="y")
        + case("testA3") + case("testA4")})
    spec_file = tmp_path / "lib.yaml"
    spec_file.write_text(spec_text(git_builder.path,
                                   r"""{cases: '^\[case (?P<name>[A-Za-z0-9_]+)', option: "-k"}"""))
    spec = load_specs([spec_file])[0]
    assert spec.tests.directives == RULE
    planned = plan_candidate(spec, repo, Candidate(repo="acme/lib", number=7, base_commit=base,
                                                   merge_commit=head))
    assert isinstance(planned, PlannedInstance)
    assert planned.settings.test_directives == ("testA2", "testA4")
    assert planned.settings.test_command == "pytest -rA -p no:cacheprovider -k 'testA2 or testA4'"
    assert planned.directive_kind == "cases" and planned.warnings == ()
    assert PlannedInstance.from_json(planned.to_json()) == planned


def test_a_case_regex_that_does_not_compile_or_lacks_the_name_group_is_a_spec_error_with_its_line(
        tmp_path):
    for directives, message in [
            (r"{cases: '^\[case (?P<name>[A-Z'}", "tests.directives.cases: not a valid regex"),
            (r"{cases: '^\[case (\w+)'}", "tests.directives.cases: needs a group named 'name'"),
            (r"{cases: 'x(?P<name>y)', joiner: ' or '}", "unknown key 'joiner' (did you mean 'join'?)"),
            ("files", "expected one of paths, modules, none (got 'files')")]:
        spec_file = tmp_path / "lib.yaml"
        spec_file.write_text(spec_text(tmp_path, directives))
        try:
            load_specs([spec_file])
        except SpecError as exc:
            text = str(exc)
        else:
            raise AssertionError(f"{directives} was accepted")
        assert f"{spec_file}:8: " in text and message in text, text


def test_a_case_name_with_no_test_id_after_the_fix_is_named():
    ids = ["mypy/test/testcheck.py::TypeCheckSuite::check-a.test::testA1",
           "mypy/test/testfinegrainedcache.py::FineGrainedSuite::fine.test::testB_cached",
           "mypy/test/testcheck.py::TypeCheckSuite::check-a.test::testP[x]",
           "tests/test_cases.py::test_case[testQ]"]
    assert directives_without_results(["testA1", "testB", "testP", "testQ", "testMissing"], ids,
                                      "pytest", "cases") == ["testMissing"]
    assert directives_without_results(["testA1", "testQ"], ["pkg.mod.Suite.testA1"], "unittest",
                                      "cases") == ["testQ"]
