"""Rebuilt published instances keep their published columns; swegc's own choices sit beside them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from swegc.compiler.candidates import candidate_from_instance, git_candidates, load_candidates
from swegc.compiler.plan import PlannedInstance, plan_candidate
from swegc.compiler.spec.loader import load_specs
from swegc.errors import InputError, SpecError
from swegc.git import GitRepo
from swegc.records import Candidate, Instance

TEST_PATCH = ("diff --git a/tests/test_w.py b/tests/test_w.py\n--- a/tests/test_w.py\n"
              "+++ b/tests/test_w.py\n@@ -1 +1,2 @@\n def test_a(): pass\n+def test_b(): pass\n")
PATCH = ("diff --git a/w/core.py b/w/core.py\n--- a/w/core.py\n+++ b/w/core.py\n"
         "@@ -1 +1 @@\n-X = 1\n+X = 2\n")


def row(number: int = 7, **extra: object) -> dict[str, object]:
    return {"instance_id": f"acme__widgets-{number}", "repo": "acme/widgets",
            "base_commit": "a" * 40, "patch": PATCH, "test_patch": TEST_PATCH,
            "problem_statement": "Widgets break\n", "version": "1.2",
            "environment_setup_commit": "b" * 40, "FAIL_TO_PASS": "[]", **extra}


def test_a_published_rows_issue_numbers_come_from_its_column_else_from_closing_keywords():
    assert candidate_from_instance(row(issue_numbers=["12", 13]), "r").resolved_issues == ["12", "13"]
    assert candidate_from_instance(row(issue_numbers='["14"]'), "r").resolved_issues == ["14"]
    statement = ("Crash on empty input. Fixes #21 and closes acme/widgets#22; see "
                 "https://github.com/acme/widgets/issues/99 and fixes other/repo#5\n")
    assert candidate_from_instance(row(problem_statement=statement), "r").resolved_issues == \
        ["21", "22"]  # a bare link and another repository's issue are not taken
    assert candidate_from_instance(row(), "r").resolved_issues == []
    with pytest.raises(InputError, match="r: issue_numbers must be issue numbers"):
        candidate_from_instance(row(issue_numbers=["abc"]), "r")


def test_issue_numbers_survive_the_candidate_record_and_join_the_issues_with_text():
    candidate = Candidate.from_json(Candidate(repo="acme/widgets", number=3, base_commit="a" * 40,
                                              diff=PATCH, issue_numbers=(5, 6)).to_json())
    assert candidate.issue_numbers == (5, 6) and candidate.resolved_issues == ["5", "6"]


def test_history_candidates_keep_the_number_of_an_issue_whose_text_is_unknown(tmp_path, git_builder):
    git_builder.commit("base", {"w/core.py": "X = 1\n"})
    git_builder.commit("Fix X (#8)\n\nFixes #4", {"w/core.py": "X = 2\n"})
    spec_file = tmp_path / "w.yaml"
    spec_file.write_text(textwrap.dedent(f"""\
        extends: swegc:pytest
        repo: acme/widgets
        source: {{clone: {git_builder.path}, git: {{}}}}
        version: {{from: fixed, value: "1.0"}}
        environments: [{{python: "3.11"}}]
        """))
    candidates, _ = git_candidates(load_specs([spec_file])[0], GitRepo.open(git_builder.path))
    assert candidates[0].issues == () and candidates[0].resolved_issues == ["4"]


def published_spec(tmp_path: Path, clone: Path, version: str) -> Path:
    (tmp_path / "rows.jsonl").write_text(json.dumps(row(7)) + "\n" +
                                         json.dumps(row(8, version="")) + "\n")
    spec_file = tmp_path / "w.yaml"
    spec_file.write_text(textwrap.dedent(f"""\
        extends: swegc:pytest
        repo: acme/widgets
        source: {{clone: {clone}, instances: rows.jsonl}}
        version: {version}
        environments: [{{versions: "<2", python: "3.11"}}, {{versions: ">=2", python: "3.11"}}]
        """))
    return spec_file


def test_a_rebuilt_instance_keeps_the_published_version_and_setup_commit_beside_swegcs_own(
        tmp_path, git_builder):
    base = git_builder.commit("base", {"w/core.py": "X = 1\n", "tests/test_w.py": "def test_a(): pass\n"})
    spec = load_specs([published_spec(tmp_path, git_builder.path, '{from: fixed, value: "2.0"}')])[0]
    candidates, _ = load_candidates(spec)
    candidates = [Candidate.from_json({**c.to_json(), "base_commit": base}) for c in candidates]
    planned = plan_candidate(spec, GitRepo.open(git_builder.path), candidates[0])
    assert isinstance(planned, PlannedInstance) and planned.version == "2.0"
    assert planned.version_columns("c" * 40) == {
        "version": "1.2", "environment_setup_commit": "b" * 40,  # as published
        "spec_version": "2.0", "env_commit": "c" * 40}  # what swegc built with
    mined = PlannedInstance.from_json({**planned.to_json(), "candidate": {
        **planned.candidate.to_json(), "expected": None}})
    assert mined.version_columns("c" * 40)["version"] == "2.0"
    assert mined.version_columns("c" * 40)["environment_setup_commit"] == "c" * 40
    assert {"spec_version", "env_commit"} <= set(Instance.__dataclass_fields__)


def test_a_spec_can_take_each_instances_version_from_its_published_row(tmp_path, git_builder):
    base = git_builder.commit("base", {"w/core.py": "X = 1\n", "tests/test_w.py": "def test_a(): pass\n"})
    spec = load_specs([published_spec(tmp_path, git_builder.path, "{from: published}")])[0]
    candidates, _ = load_candidates(spec)
    candidates = [Candidate.from_json({**c.to_json(), "base_commit": base}) for c in candidates]
    repo = GitRepo.open(git_builder.path)
    planned = plan_candidate(spec, repo, candidates[0])
    assert isinstance(planned, PlannedInstance) and planned.version == "1.2"
    assert planned.env_index == 0
    rejected = plan_candidate(spec, repo, candidates[1])
    assert rejected.reason == "version_not_found"
    assert "the published row of acme__widgets-8 has no version" in rejected.detail


def test_from_published_with_a_source_other_than_published_rows_is_a_spec_error(tmp_path):
    spec_file = tmp_path / "w.yaml"
    spec_file.write_text(textwrap.dedent("""\
        extends: swegc:pytest
        repo: acme/widgets
        source: {clone: repo, git: {}}
        version: {from: published}
        environments: [{python: "3.11"}]
        """))
    with pytest.raises(SpecError) as info:
        load_specs([spec_file])
    assert [str(p) for p in info.value.problems] == [
        f"{spec_file}:4: version.from: published takes each instance's version from its "
        "published row, so it needs source.instances (this spec's source is git)"]
