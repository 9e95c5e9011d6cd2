"""Candidates from each source kind, and filters that reject with a reason instead of dropping."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from swegc.compiler.spec import model as specs
from swegc.compiler.candidates import Rejection, git_candidates, load_candidates
from swegc.compiler.patches import Split, file_sections
from swegc.compiler.spec.model import (EnvironmentSpec, Filters, GitSource, RepoSpec, SourceSpec,
                                 VersionSpec)
from swegc.errors import InputError
from swegc.git import GitRepo, git_env


class Repo:
    """A repository built commit by commit, each commit one hour after the previous one."""

    def __init__(self, root: Path):
        self.root = root
        self.hour = 0
        root.mkdir(parents=True)
        self.git("-c", "init.defaultBranch=main", "init", "-q", "--template=")

    def git(self, *args: str) -> str:
        when = f"2024-05-01T{self.hour:02d}:00:00Z"
        env = git_env({"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com",
                       "GIT_COMMITTER_NAME": "C", "GIT_COMMITTER_EMAIL": "c@example.com",
                       "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when})
        return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=self.root,
                              env=env, check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, message: str, files: dict[str, str]) -> str:
        self.hour += 1
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def pull_request(self, number: int, branch: str, title: str, body: str,
                     commits: list[tuple[str, dict[str, str]]], titled: bool = False) -> str:
        """A pull request merged with GitHub's default message, or (``titled``) with its title
        as the subject, as GitHub's merge queue and the "pull request title" setting write."""
        self.git("checkout", "-q", "-b", branch)
        for message, files in commits:
            self.commit(message, files)
        self.git("checkout", "-q", "main")
        self.hour += 1
        message = (f"{title} (#{number})\n\n{body}" if titled
                   else f"Merge pull request #{number} from dev/{branch}\n\n{title}\n\n{body}")
        self.git("merge", "-q", "--no-ff", branch, "-m", message)
        return self.git("rev-parse", "HEAD")


def make_spec(tmp_path: Path, source: SourceSpec) -> RepoSpec:
    return RepoSpec(path=tmp_path / "spec.yaml", repo="acme/widgets", source=source,
                    tests=specs.TestsSpec(files=("tests/**",), command="pytest",
                                          parser="pytest"),
                    version=VersionSpec("fixed", value="1.0"),
                    environments=(EnvironmentSpec(versions="", python="3.11"),))


@pytest.fixture
def history(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "widgets")
    repo.commit("Initial", {"widgets/core.py": "X = 1\n", "tests/test_core.py": "def test(): pass\n"})
    repo.pull_request(7, "fix-x", "Fix X for negative sizes",
                      "Fixes #3 and closes acme/widgets#4.\nAlso see other/repo#5 (fixes other/repo#5).",
                      [("Test X", {"tests/test_core.py": "def test(): assert 1\n"}),
                       ("Fix X\n\nresolves https://github.com/acme/widgets/issues/6",
                        {"widgets/core.py": "X = 2\n"})])
    repo.pull_request(8, "more-tests", "More tests", "", [("Tests", {"tests/test_more.py": "x = 1\n"})])
    repo.commit("Speed up X (#9)\n\nFixes #3", {"widgets/core.py": "X = 3\n",
                                               "tests/test_core.py": "def test(): assert 3\n"})
    repo.commit("Docs only (#10)", {"README.md": "docs\n"})
    repo.commit("A commit without a pull request", {"notes.txt": "n\n"})
    (repo.root.parent / "issues.jsonl").write_text("".join(
        json.dumps({"number": n, "title": f"Issue {n}", "body": f"Body {n}", "extra": 1}) + "\n"
        for n in (3, 4)))
    return repo


def git_spec(tmp_path: Path, repo: Repo, **filters: object) -> RepoSpec:
    return make_spec(tmp_path, SourceSpec(kind="git", clone=Path("widgets"),
                                          git=GitSource(issues=Path("issues.jsonl")),
                                          filters=Filters(**filters)))  # type: ignore[arg-type]


def test_merge_commits_become_candidates_based_on_their_first_parent(tmp_path, history):
    candidates, warnings = git_candidates(git_spec(tmp_path, history),
                                          GitRepo.open(history.root))
    assert [c.number for c in candidates] == [7, 8, 9, 10]
    pr = candidates[0]
    merge = history.git("rev-parse", "main~4")
    assert pr.merge_commit == merge
    assert pr.base_commit == history.git("rev-parse", f"{merge}^1")
    assert pr.title == "Fix X for negative sizes"
    assert pr.body.startswith("Fixes #3")
    assert pr.created_at == "2024-05-01T02:00:00Z"  # the first commit of the pull request
    assert pr.merged_at == "2024-05-01T04:00:00Z"
    assert pr.base_branch == "main"
    assert [m.split("\n")[0] for m in pr.commit_messages] == ["Test X", "Fix X"]
    assert pr.source == "git"


def test_merge_commits_titled_with_the_pull_request_title_are_read_like_the_others(
        tmp_path, history):
    # click's merges since 2023: "Fix the pager on Windows (#3764)", not "Merge pull request".
    merge = history.pull_request(
        12, "zero", "Handle zero sizes", "Fixes #4.",
        [("Test zero", {"tests/test_core.py": "def test(): assert 0\n"}),
         ("Handle zero", {"widgets/core.py": "X = 0\n"})], titled=True)
    splits: dict[str, Split] = {}
    kept, _ = load_candidates(git_spec(tmp_path, history), splits=splits)
    pr = next(c for c in kept if c.number == 12)
    assert pr.merge_commit == merge
    assert pr.base_commit == history.git("rev-parse", f"{merge}^1")
    assert (pr.title, pr.body) == ("Handle zero sizes", "Fixes #4.")
    assert [i.number for i in pr.issues] == [4]
    assert [m.split("\n")[0] for m in pr.commit_messages] == ["Test zero", "Handle zero"]
    assert pr.created_at == "2024-05-01T10:00:00Z"  # its first commit, as for other merges
    assert pr.merged_at == "2024-05-01T12:00:00Z"
    split = splits["acme__widgets-12"]
    assert [f.path for f in file_sections(split.patch)] == ["widgets/core.py"]
    assert "+X = 0" in split.patch and "assert 0" in split.test_patch


def test_the_merges_switch_covers_titled_merges_and_the_squash_switch_does_not(tmp_path, history):
    history.pull_request(12, "zero", "Handle zero sizes", "",
                         [("Zero", {"widgets/core.py": "X = 0\n"})], titled=True)
    numbers = {}
    for switch in ("merges", "squash"):
        spec = git_spec(tmp_path, history)
        spec = replace(spec, source=replace(spec.source, git=GitSource(**{switch: False})))
        candidates, _ = git_candidates(spec, GitRepo.open(history.root))
        numbers[switch] = [c.number for c in candidates]
    assert numbers == {"merges": [9, 10], "squash": [7, 8, 12]}


def test_a_pull_request_squashed_and_then_merged_again_is_read_once_from_its_change(
        tmp_path, history):
    # pydantic's #697: squash-merged, then its branch merged too with the same title; the
    # merge changes nothing, and a candidate read from it would have no diff.
    history.git("checkout", "-q", "-b", "neg", "main")
    history.commit("Negative sizes", {"widgets/core.py": "X = -1\n"})
    history.git("checkout", "-q", "main")
    squash = history.commit("Allow negative sizes (#11)", {"widgets/core.py": "X = -1\n"})
    history.hour += 1
    history.git("merge", "-q", "--no-ff", "neg", "-m", "Allow negative sizes (#11)")
    assert history.git("diff", "HEAD^1", "HEAD") == ""
    candidates, warnings = git_candidates(git_spec(tmp_path, history), GitRepo.open(history.root))
    assert [c.merge_commit for c in candidates if c.number == 11] == [squash]
    assert [w for w in warnings if "#11" in w] == [
        f"{history.root}: pull request #11 appears twice in the history of HEAD; keeping {squash}"]


def test_a_squash_commit_applied_again_and_again_is_one_candidate_and_one_warning(tmp_path, history):
    # mypy re-applies the same typeshed commits, subject and all, at every sync.
    for n in range(3):
        history.commit("Remove LiteralString (#11)", {"widgets/core.py": f"X = {10 + n}\n",
                                                      "tests/test_core.py": f"# {n}\n"})
    newest = history.git("rev-parse", "HEAD")
    candidates, warnings = git_candidates(git_spec(tmp_path, history), GitRepo.open(history.root))
    assert [c.merge_commit for c in candidates if c.number == 11] == [newest]
    assert [w for w in warnings if "#11" in w] == [
        f"{history.root}: pull request #11 appears 3 times in the history of HEAD; keeping {newest}"]


def test_linked_issues_come_from_keywords_and_missing_issue_text_is_a_warning(tmp_path, history):
    candidates, warnings = git_candidates(git_spec(tmp_path, history),
                                          GitRepo.open(history.root))
    pr = candidates[0]
    assert [(i.number, i.title, i.body) for i in pr.issues] == [(3, "Issue 3", "Body 3"),
                                                               (4, "Issue 4", "Body 4")]
    assert pr.problem_statement == "Issue 3\nBody 3\nIssue 4\nBody 4\n"
    assert any("#6" in w and "dropped" in w for w in warnings)
    assert not any("#5" in w for w in warnings)  # another repository's issue is not ours


def test_squash_merged_commits_lose_the_number_suffix_from_their_title(tmp_path, history):
    candidates, _ = git_candidates(git_spec(tmp_path, history), GitRepo.open(history.root))
    squash = next(c for c in candidates if c.number == 9)
    assert squash.title == "Speed up X"
    assert squash.body == "Fixes #3"
    assert squash.base_commit == history.git("rev-parse", f"{squash.merge_commit}^")
    assert [i.number for i in squash.issues] == [3]


def test_a_projects_own_issue_convention_in_squash_subjects_links_issues_when_the_spec_names_it(
        tmp_path, history):
    # modin's squash commits say "FIX-#N: ..." and keep "Resolves #N" in the pull request body,
    # which a clone does not have; FIX-#0000 is its placeholder for "no issue".
    history.commit("FIX-#4: Handle empty frames (#11)\n\nSigned-off-by: A",
                   {"widgets/core.py": "X = 11\n", "tests/test_core.py": "def test(): assert 11\n"})
    history.commit("FIX-#0000: Correct typos (#12)", {"widgets/core.py": "X = 12\n"})
    repo = GitRepo.open(history.root)
    plain, _ = git_candidates(git_spec(tmp_path, history), repo)
    assert {c.number: c.issue_numbers for c in plain if c.number in (11, 12)} == {11: (), 12: ()}
    spec = git_spec(tmp_path, history)
    spec = replace(spec, source=replace(spec.source, git=replace(
        spec.source.git, issue_pattern=r"^(?:FIX|FEAT|PERF)-#(?P<issue>\d+):")))
    linked, _ = git_candidates(spec, repo)
    by_number = {c.number: c for c in linked}
    assert by_number[11].issue_numbers == (4,)
    assert by_number[11].problem_statement == "Issue 4\nBody 4\n"
    assert by_number[12].issue_numbers == ()
    assert by_number[9].issue_numbers == (3,)  # closing keywords still count


def test_many_unknown_issue_texts_are_one_warning_that_counts_them(tmp_path, history):
    for n in range(20, 28):  # real histories link thousands of issues no file holds
        history.commit(f"Fix {n} (#{n})\n\nFixes #{n + 100}", {"widgets/core.py": f"X = {n}\n"})
    candidates, warnings = git_candidates(git_spec(tmp_path, history),
                                          GitRepo.open(history.root))
    unknown = [w for w in warnings if "whose text is unknown" in w]
    assert len(unknown) == 1
    assert "9 linked issue(s)" in unknown[0] and "not in issues.jsonl" in unknown[0]
    assert unknown[0].startswith("9 linked issue(s)")
    assert "#27 resolves #127" in unknown[0] and "and 4 more" in unknown[0]
    assert [c.issue_numbers for c in candidates if c.number == 27] == [(127,)]


def test_several_branches_are_read_in_order_and_shared_history_counts_once(tmp_path, history):
    # A maintenance branch forked after #7 and #8, with a fix of its own (#11), as projects that
    # keep their previous major release on a branch do (conan's develop for 1.x).
    history.git("checkout", "-q", "-b", "release", "main~3")
    history.commit("Fix X on 1.x (#11)\n\nFixes #4", {"widgets/core.py": "X = 11\n",
                                                     "tests/test_core.py": "def test(): assert 11\n"})
    history.git("checkout", "-q", "main")
    spec = git_spec(tmp_path, history)
    spec = replace(spec, source=replace(spec.source, git=GitSource(
        branches=("main", "release"), issues=Path("issues.jsonl"))))
    candidates, warnings = git_candidates(spec, GitRepo.open(history.root))
    assert [(c.number, c.base_branch) for c in candidates] == [
        (7, "main"), (8, "main"), (9, "main"), (10, "main"), (11, "release")]
    assert not any("twice" in w for w in warnings)


def test_a_branch_the_clone_lacks_is_an_error_naming_it(tmp_path, history):
    spec = git_spec(tmp_path, history)
    spec = replace(spec, source=replace(spec.source, git=GitSource(branches=("main", "develop"))))
    with pytest.raises(InputError, match="no branch or ref 'develop'"):
        git_candidates(spec, GitRepo.open(history.root))


def test_squash_detection_can_be_turned_off(tmp_path, history):
    spec = git_spec(tmp_path, history)
    spec = replace(spec, source=replace(spec.source, git=GitSource(squash=False)))
    candidates, _ = git_candidates(spec, GitRepo.open(history.root))
    assert [c.number for c in candidates] == [7, 8]


def test_filters_reject_with_reasons_instead_of_dropping(tmp_path, history):
    kept, rejected = load_candidates(git_spec(tmp_path, history))
    assert [c.number for c in kept] == [7, 9]
    assert rejected == [
        Rejection("acme__widgets-8", "only_tests_changed",
                  "changes only test files (tests/test_more.py)"),
        Rejection("acme__widgets-10", "no_test_change", "changes no test file (README.md)")]


@pytest.mark.parametrize(("filters", "reasons"), [
    ({"numbers": (9,)}, {7: "not_selected", 8: "not_selected", 10: "not_selected"}),
    ({"since": "2024-05-01T06:00:00Z", "must_touch_code": False, "must_touch_tests": False},
     {7: "outside_dates", 8: "outside_dates"}),
    ({"require_linked_issue": True, "must_touch_code": False, "must_touch_tests": False},
     {8: "no_linked_issue", 10: "no_linked_issue"}),
    ({"max_files": 1, "must_touch_code": False, "must_touch_tests": False},
     {7: "too_large", 9: "too_large"}),
    ({"base_branch": "release"}, {n: "other_base_branch" for n in (7, 8, 9, 10)}),
])
def test_each_filter_names_its_reason(tmp_path, history, filters, reasons):
    _, rejected = load_candidates(git_spec(tmp_path, history, **filters))
    assert {int(r.instance_id.rsplit("-", 1)[1]): r.reason for r in rejected} == reasons


def test_jsonl_candidates_are_read_and_errors_name_the_line(tmp_path, history):
    base = history.git("rev-parse", "main~1")
    head = history.git("rev-parse", "main")
    row = {"repo": "acme/widgets", "number": 12, "base_commit": base, "merge_commit": head,
           "title": "t", "labels": ["ui"]}
    path = tmp_path / "candidates.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "number": 11}) + "\n")
    spec = make_spec(tmp_path, SourceSpec(kind="jsonl", clone=Path("widgets"),
                                          jsonl=Path("candidates.jsonl"),
                                          filters=Filters(must_touch_tests=False,
                                                          exclude_labels=("wontfix",))))
    kept, rejected = load_candidates(spec)
    assert [c.number for c in kept] == [11, 12] and rejected == []
    path.write_text(json.dumps(row) + "\n\n" + json.dumps({"repo": "acme/widgets"}) + "\n")
    with pytest.raises(InputError, match=r"candidates.jsonl:3: candidate has no 'number'"):
        load_candidates(spec)


def test_a_missing_merge_commit_is_a_rejection_not_a_crash(tmp_path, history):
    row = {"repo": "acme/widgets", "number": 1, "base_commit": "0" * 40,
           "merge_commit": "1" * 40}
    (tmp_path / "c.jsonl").write_text(json.dumps(row) + "\n")
    spec = make_spec(tmp_path, SourceSpec(kind="jsonl", clone=Path("widgets"),
                                          jsonl=Path("c.jsonl")))
    kept, rejected = load_candidates(spec)
    assert kept == [] and rejected[0].reason == "commit_missing"


PATCH = "diff --git a/w.py b/w.py\n--- a/w.py\n+++ b/w.py\n@@ -1 +1 @@\n-a\n+b\n"
TEST_PATCH = ("diff --git a/tests/test_w.py b/tests/test_w.py\n--- a/tests/test_w.py\n"
              "+++ b/tests/test_w.py\n@@ -1 +1 @@\n-a\n+b\n")


def swe_row(number: int, native: bool, repo: str = "acme/widgets") -> dict[str, object]:
    f2p, p2p = ["tests/test_w.py::test_b"], ["tests/test_w.py::test_a"]
    return {"instance_id": f"{repo.replace('/', '__')}-{number}", "repo": repo,
            "base_commit": "a" * 40, "patch": PATCH, "test_patch": TEST_PATCH,
            "problem_statement": "Widgets break\nwhen negative\n", "hints_text": "try abs",
            "created_at": "2023-01-01T00:00:00Z", "version": "1.2",
            "environment_setup_commit": "b" * 40,
            "FAIL_TO_PASS": f2p if native else json.dumps(f2p),
            "PASS_TO_PASS": p2p if native else json.dumps(p2p)}


def test_swe_bench_rows_keep_their_patches_and_expectations(tmp_path):
    rows = [swe_row(31, native=False), swe_row(30, native=True),
            swe_row(5, native=True, repo="other/repo")]
    (tmp_path / "instances.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = make_spec(tmp_path, SourceSpec(kind="instances", clone=None,
                                          instances="instances.jsonl"))
    kept, rejected = load_candidates(spec)
    assert [c.number for c in kept] == [30, 31] and rejected == []
    first = kept[0]
    assert first.patch == PATCH and first.test_patch == TEST_PATCH
    assert first.title == "" and first.body == "Widgets break\nwhen negative\n"
    assert first.hints_text == "try abs" and first.source == "instances"
    assert first.expected is not None
    assert first.expected.FAIL_TO_PASS == ("tests/test_w.py::test_b",)
    assert kept[1].expected.PASS_TO_PASS == ("tests/test_w.py::test_a",)
    assert first.expected.version == "1.2"
    assert first.expected.environment_setup_commit == "b" * 40
    assert first.instance_id == "acme__widgets-30"


def test_instances_are_read_from_a_saved_dataset_and_a_parquet_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [swe_row(41, native=False), swe_row(40, native=False)]
    dataset = datasets.Dataset.from_list(rows)
    dataset.save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "hub" / "data").mkdir(parents=True)
    dataset.to_parquet(str(tmp_path / "hub" / "data" / "test-00000-of-00001.parquet"))
    for location in ("saved", "hub"):
        spec = make_spec(tmp_path, SourceSpec(kind="instances", clone=None, instances=location))
        kept, _ = load_candidates(spec)
        assert [c.number for c in kept] == [40, 41]
        assert kept[0].expected.FAIL_TO_PASS == ("tests/test_w.py::test_b",)


def test_instances_of_another_repository_only_is_an_error_that_lists_what_is_there(tmp_path):
    (tmp_path / "i.jsonl").write_text(json.dumps(swe_row(1, True, repo="other/repo")) + "\n")
    spec = make_spec(tmp_path, SourceSpec(kind="instances", clone=None, instances="i.jsonl"))
    with pytest.raises(InputError, match="no instance of acme/widgets.*other/repo"):
        load_candidates(spec)
