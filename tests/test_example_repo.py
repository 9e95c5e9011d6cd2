"""The bundled example is reproducible and yields the pull requests examples/README.md lists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from swegc.compiler.candidates import Rejection, git_candidates, load_candidates
from swegc.compiler.patches import split_patch
from swegc.compiler.versioning import detect_version
from swegc.git import GitRepo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEPT = [2, 5, 8, 10, 12]
REJECTED = [Rejection("example__calc-3", "only_tests_changed",
                      "changes only test files (tests/test_ops.py)"),
            Rejection("example__calc-6", "no_test_change",
                      "changes no test file (calc/__init__.py)"),
            Rejection("example__calc-13", "no_test_change", "changes no test file (README.md)")]


def heads(bundle: Path) -> str:
    return subprocess.run(["git", "bundle", "list-heads", str(bundle)], check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("example")
    subprocess.run([sys.executable, str(EXAMPLES / "make_example_repo.py"), "--out", str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def spec():
    from swegc.compiler.spec.loader import load_specs
    return load_specs([EXAMPLES / "specs" / "calc.yaml"])[0]


def test_regenerating_gives_the_commit_hashes_of_the_committed_bundle(regenerated):
    assert heads(regenerated / "calc.bundle") == heads(EXAMPLES / "calc.bundle")


def test_regenerating_gives_byte_identical_records(regenerated):
    for name in ("candidates.jsonl", "issues.jsonl"):
        assert (regenerated / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


def test_the_example_spec_keeps_five_pull_requests_and_says_why_three_are_rejected(spec):
    kept, rejected = load_candidates(spec)
    assert [c.number for c in kept] == KEPT
    assert rejected == REJECTED
    assert all(c.issues for c in kept)


def test_reading_the_history_itself_finds_the_same_pull_requests(spec):
    from dataclasses import replace

    from swegc.compiler.spec.model import GitSource, SourceSpec
    source = SourceSpec(kind="git", clone=spec.source.clone,
                        git=GitSource(issues=EXAMPLES / "issues.jsonl"))
    git_spec = replace(spec, source=source)
    found, warnings = git_candidates(git_spec, GitRepo.open(spec.source.clone))
    assert [c.number for c in found] == [2, 3, 5, 6, 8, 10, 12, 13] and warnings == []
    kept, rejected = load_candidates(git_spec)
    assert [c.number for c in kept] == KEPT and rejected == REJECTED
    records, _ = load_candidates(spec)
    by_number = {c.number: c for c in records}
    for c in kept:
        assert c.issues == by_number[c.number].issues
        assert c.title == by_number[c.number].title


def test_pull_request_12_forked_before_10_changed_the_same_line(spec):
    kept, _ = load_candidates(spec)
    twelve = next(c for c in kept if c.number == 12)
    repo = GitRepo.open(spec.source.clone)
    assert repo.parents(twelve.merge_commit)[0] != twelve.base_commit
    assert twelve.diff is not None
    split = split_patch(twelve.diff, spec.tests.files)
    old = repo.show_file(twelve.base_commit, "calc/ops.py")
    assert old is not None and b"part * 100 // whole" in old
    assert "-    return part * 100 / whole" in split.patch


def test_versions_are_1_0_before_the_release_and_1_1_after(spec):
    kept, _ = load_candidates(spec)
    repo = GitRepo.open(spec.source.clone)
    versions = {c.number: detect_version(spec, repo, c.base_commit) for c in kept}
    assert versions == {2: "1.0", 5: "1.0", 8: "1.1", 10: "1.1", 12: "1.1"}
    assert spec.environment_for("1.1").pip == ("pytest==8.3.3", "more-itertools==10.2.0")


def test_planning_reuses_the_diffs_the_filters_read_and_plans_the_same(spec, monkeypatch):
    """Each pull request's diff is read from git and split once per compile, not twice."""
    from dataclasses import replace

    from swegc.compiler.plan import plan_candidate
    from swegc.compiler.spec.model import GitSource, SourceSpec
    git_spec = replace(spec, source=SourceSpec(kind="git", clone=spec.source.clone,
                                               git=GitSource(issues=EXAMPLES / "issues.jsonl")))
    repo = GitRepo.open(spec.source.clone)
    fresh = {c.instance_id: plan_candidate(git_spec, repo, c) for c in load_candidates(git_spec)[0]}
    reads: list[tuple[str, str]] = []
    diff = GitRepo.diff
    monkeypatch.setattr(GitRepo, "diff", lambda self, base, head, **kw: (
        reads.append((base, head)), diff(self, base, head, **kw))[1])
    splits: dict = {}
    kept, _ = load_candidates(git_spec, splits=splits)
    planned = {c.instance_id: plan_candidate(git_spec, repo, c, split=splits[c.instance_id])
               for c in kept}
    assert len(reads) == len(set(reads)) == 8  # every pull request's diff, once
    assert planned == fresh
