"""Which changed test files run: directives from the test_patch, and warnings when some do not."""

from __future__ import annotations

import textwrap
from pathlib import Path

from swegc.compiler.candidates import candidate_split
from swegc.compiler.patches import directive_warnings, read_diff, split_patch, test_directives
from swegc.compiler.plan import PlannedInstance, plan_candidate
from swegc.compiler.spec.loader import load_specs
from swegc.compiler.spec.model import DEFAULT_DIRECTIVE_FILES
from swegc.git import GitRepo
from swegc.records import Candidate
from swegc.runtime.harness.directive_results import directives_without_results

TEST_A = "import unittest\n\nclass ATest(unittest.TestCase):\n    def test_a(self):\n        pass\n"


def unittest_named_repo(git_builder) -> tuple[GitRepo, str, str]:
    """A repository whose tests are ``unittest_*.py`` (no file matches ``test_*.py``)."""
    base = git_builder.commit("base", {
        "lib/core.py": "X = 1\n", "lib/__init__.py": "__version__ = '1.0'\n",
        "lib/tests/__init__.py": "", "lib/tests/conftest.py": "",
        "lib/tests/unittest_core.py": TEST_A, "lib/tests/unittest_old.py": TEST_A,
        "lib/tests/data/input.txt": "a\n"})
    head = git_builder.commit("fix (#5)", {
        "lib/core.py": "X = 2\n", "lib/tests/__init__.py": "# package\n",
        "lib/tests/conftest.py": "import os\n",
        "lib/tests/unittest_core.py": TEST_A + "    def test_b(self):\n        pass\n",
        "lib/tests/unittest_new.py": TEST_A.replace("ATest", "NewTest"),
        "lib/tests/unittest_old.py": None,
        "lib/tests/data/input.txt": "b\n"})
    return GitRepo.open(git_builder.path), base, head


def test_every_changed_python_test_file_is_a_directive_by_default_whatever_its_name(git_builder):
    repo, base, head = unittest_named_repo(git_builder)
    split = split_patch(read_diff(repo, base, head), ["lib/tests/**"])
    assert test_directives(split.test_patch, "paths", DEFAULT_DIRECTIVE_FILES) == [
        "lib/tests/unittest_core.py", "lib/tests/unittest_new.py"]  # not conftest, data, deleted
    assert test_directives(split.test_patch, "modules", DEFAULT_DIRECTIVE_FILES) == [
        "lib.tests.unittest_core", "lib.tests.unittest_new"]
    assert directive_warnings(split.test_patch, "paths", DEFAULT_DIRECTIVE_FILES,
                              ["lib/tests/unittest_core.py", "lib/tests/unittest_new.py"]) == []


def test_changed_tests_left_out_by_directive_files_are_warned_about_before_anything_runs(git_builder):
    repo, base, head = unittest_named_repo(git_builder)
    split = split_patch(read_diff(repo, base, head), ["lib/tests/**"])
    narrow = ["**/test_*.py"]  # swegc's old default: matches none of these files
    directives = test_directives(split.test_patch, "paths", narrow)
    assert directives == []
    warnings = directive_warnings(split.test_patch, "paths", narrow, directives)
    assert warnings[0].startswith("no changed test file is a directive")
    assert "the whole test suite runs" in warnings[0]
    assert any(w.startswith("lib/tests/unittest_core.py changes tests but is not run") for w in warnings)
    assert any(w.startswith("lib/tests/unittest_new.py changes tests but is not run") for w in warnings)
    assert not any("conftest" in w.split(" ")[0] for w in warnings)  # defines no test
    assert directive_warnings(split.test_patch, "none", narrow, []) == []


def test_a_spec_that_extends_the_pytest_or_unittest_defaults_gets_the_one_directive_default(tmp_path):
    for default in ("pytest", "unittest"):
        spec_file = tmp_path / f"{default}.yaml"
        spec_file.write_text(textwrap.dedent(f"""\
            extends: swegc:{default}
            repo: acme/lib
            source: {{clone: repo, jsonl: c.jsonl}}
            version: {{from: fixed, value: "1.0"}}
            environments: [{{python: "3.11"}}]
            """))
        assert load_specs([spec_file])[0].tests.directive_files == DEFAULT_DIRECTIVE_FILES


def test_a_planned_instance_runs_its_changed_test_files_and_carries_the_warnings(git_builder, tmp_path):
    repo, base, head = unittest_named_repo(git_builder)
    spec_file = tmp_path / "lib.yaml"
    spec_file.write_text(textwrap.dedent(f"""\
        extends: swegc:unittest
        repo: acme/lib
        source: {{clone: {git_builder.path}, jsonl: c.jsonl}}
        tests: {{files: ["lib/tests/**"]}}
        version: {{from: fixed, value: "1.0"}}
        environments: [{{python: "3.11"}}]
        """))
    spec = load_specs([spec_file])[0]
    candidate = Candidate(repo="acme/lib", number=5, base_commit=base, merge_commit=head)
    planned = plan_candidate(spec, repo, candidate)
    assert isinstance(planned, PlannedInstance)
    assert planned.settings.test_command == ("python -m unittest -v lib.tests.unittest_core "
                                    "lib.tests.unittest_new")
    assert planned.warnings == ()
    assert PlannedInstance.from_json(planned.to_json()) == planned

    narrowed = spec_file.read_text().replace('files: ["lib/tests/**"]',
                                             'files: ["lib/tests/**"], directive_files: ["**/test_*.py"]')
    spec_file.write_text(narrowed)
    planned = plan_candidate(load_specs([spec_file])[0], repo, candidate,
                             split=candidate_split(spec, candidate, lambda: repo))
    assert planned.settings.test_command == "python -m unittest -v"
    assert len(planned.warnings) == 3 and "whole test suite runs" in planned.warnings[0]


def test_a_directive_no_after_run_test_belongs_to_is_named_for_each_parser_that_names_files():
    pytest_ids = ["tests/test_a.py::test_x", "tests/test_a.py::TestK::test_y[a::b]",
                  "tests/test_broken.py"]
    assert directives_without_results(
        ["tests/test_a.py", "tests/test_broken.py", "tests/helpers.py"], pytest_ids, "pytest") == \
        ["tests/helpers.py"]
    unittest_ids = ["lib.tests.unittest_core.ATest.test_a"]
    assert directives_without_results(["lib.tests.unittest_core", "lib.tests.unittest_new"],
                                      unittest_ids, "unittest") == ["lib.tests.unittest_new"]
    # Django labels drop the tests/ folder: tests/admin_views/tests.py runs as admin_views.tests.
    django_ids = ["test_add (admin_views.tests.AdminViewTests)"]
    assert directives_without_results(["tests.admin_views.tests", "tests.auth_tests.test_forms"],
                                      django_ids, "django") == ["tests.auth_tests.test_forms"]
    assert directives_without_results(["tests.x"], ["tests.y.T.test"], "unittest") == ["tests.x"]
    assert directives_without_results(["a.py"], ["anything"], "regex") is None
