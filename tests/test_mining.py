"""Mining against the GitHub stand-in: exact records, linked issues, hints, filters, the CLI."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from swegc.compiler.mining.github_client import GithubClient
from swegc.compiler.mining.miner import mine_candidates
from swegc.compiler.candidates import apply_filters
from swegc.compiler.mining.filters import is_lite, lite_reasons
from swegc.git import GitRepo
from swegc.compiler.mining.links import Comment, hints_for_issue, keyword_references
from swegc.compiler.spec import model as specs
from swegc.compiler.spec.model import Filters, GithubSource, RepoSpec, SourceSpec, VersionSpec
from swegc.records import Candidate
from swegc.testing.github_standin import GithubStandin, PullFixture, Sample, make_sample

TESTS = ("tests/**",)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return make_sample(tmp_path_factory.mktemp("gh") / "widgets")


def spec_for(sample: Sample, api_url: str, *, clone: bool = True, per_page: int = 2,
             filters: Filters = Filters()) -> RepoSpec:
    return RepoSpec(path=Path("specs/widgets.yaml"), repo=sample.repo,
                    source=SourceSpec(kind="github", clone=sample.git_dir if clone else None,
                                      github=GithubSource(api_url=api_url, per_page=per_page),
                                      filters=filters),
                    tests=specs.TestsSpec(files=TESTS, command="pytest", parser="pytest"),
                    version=VersionSpec(strategy="fixed", value="1.0"), environments=())


def client(api_url: str, tokens: list[str] | None = None) -> GithubClient:
    return GithubClient(api_url, tokens or [], sleep=lambda s: None)


def mine(sample: Sample, gh: GithubStandin, **kwargs: object) -> list[Candidate]:
    clone = bool(kwargs.pop("clone", True))
    return mine_candidates(spec_for(sample, gh.base_url, clone=clone), None,
                           client=client(gh.base_url), **kwargs)  # type: ignore[arg-type]


def git(sample: Sample, *args: str) -> str:
    return subprocess.run(["git", "-C", str(sample.git_dir), *args], capture_output=True,
                          text=True, check=True).stdout


def test_a_merge_commit_pull_request_becomes_this_exact_candidate(sample: Sample) -> None:
    pull = sample.pulls[0]
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        first = {c.number: c for c in mine(sample, gh)}[1]
    assert first.to_json() == {
        "schema_version": 1, "repo": "acme/widgets", "number": 1,
        "base_commit": pull.base_sha, "title": "Make add() accept strings",
        "body": "Parses both operands first.", "merge_commit": pull.merge_commit_sha,
        "diff": git(sample, "diff", "--binary", "--full-index", "-M", f"{pull.base_sha}",
                    f"{pull.merge_commit_sha}"),
        "patch": None, "test_patch": None,
        "created_at": "2024-01-05T12:00:00Z", "merged_at": "2024-01-07T00:00:00Z",
        "base_branch": "main", "labels": ["bug"],
        "issues": [{"number": 10, "title": "add() fails on strings",
                    "body": "add('1', 2) raises TypeError.",
                    "url": "https://github.com/acme/widgets/issues/10",
                    "created_at": "2024-01-02T00:00:00Z"}],
        "hints_text": "I can reproduce.\nLook at add().",
        "commit_messages": ["Make add() accept strings"], "source": "github", "expected": None}
    assert first.problem_statement == "add() fails on strings\nadd('1', 2) raises TypeError.\n"
    assert Candidate.from_json(first.to_json()) == first


def test_only_merged_pull_requests_are_mined_sorted_by_number(sample: Sample) -> None:
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        numbers = [c.number for c in mine(sample, gh)]
    assert numbers == [1, 2, 3, 5]


def test_linked_issues_are_found_each_way(sample: Sample) -> None:
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        found = {c.number: [i.number for i in c.issues] for c in mine(sample, gh)}
    assert found[1] == [10]  # closingIssuesReferences (GraphQL)
    assert found[2] == [11]  # "Fixes #11" in the body; "<!-- fixes #99 -->" is a comment
    assert found[3] == [12]  # "resolves <issue URL>" in a commit message
    assert found[5] == []  # "Fixes #2" names a pull request, other/repo#3 another repository


def test_closing_keywords_follow_githubs_grammar() -> None:
    texts = ["Fixes: #4, closes acme/widgets#5 and Resolved https://ghe.example/acme/widgets/"
             "issues/6; fix other/repo#7; prefixes #8; see #9", "<!-- fixes #10 -->"]
    assert keyword_references("acme/widgets", texts) == [4, 5, 6]


def test_hints_stop_at_the_first_comment_updated_after_the_first_commit(
        sample: Sample) -> None:
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        hints = {c.number: c.hints_text for c in mine(sample, gh)}
    assert hints[1] == "I can reproduce.\nLook at add()."  # the 2024-01-06 comment is after
    # "Edited later." was created before the first commit but updated after it: the cut-off
    # is there, so the comment after it is left out too (SWE-bench's rule)
    assert hints[2] == "Same here."
    assert hints[3] == "\n".join(f"+{i}" for i in range(105))  # two GraphQL comment pages
    comments = [Comment("a", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z")]
    assert hints_for_issue(comments, None) == ""
    assert hints_for_issue(comments, "2024-01-01T00:00:00Z") == ""


def test_diffs_from_the_clone_match_the_apis_for_each_merge_style(sample: Sample) -> None:
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        local = {c.number: c for c in mine(sample, gh)}
        assert gh.count("pull-diff") == 0
        remote = {c.number: c for c in mine(sample, gh, clone=False)}
        assert gh.count("pull-diff") == 4
    # The same changes, merge commit, squash and rebase alike; the clone's diff names full blob
    # ids (``--full-index``, which ``git apply`` needs for binary patches), the API's short ones.
    assert {n: replace(c, diff=_without_index_lines(c.diff)) for n, c in local.items()} == \
        {n: replace(c, diff=_without_index_lines(c.diff)) for n, c in remote.items()}
    assert "tests/test_mul.py" in local[3].diff and "src/calc.py" in local[3].diff


def _without_index_lines(diff: str | None) -> str:
    return "".join(line for line in (diff or "").splitlines(keepends=True)
                   if not line.startswith("index "))


def test_a_mined_pull_request_with_a_binary_change_applies_with_git_apply(
        git_builder, tmp_path: Path) -> None:
    base = git_builder.commit("Initial commit", {"src/logo.png": bytes(range(256)) * 4,
                                                  "src/calc.py": "x = 1\n"})
    git_builder.git("checkout", "-q", "-b", "logo")
    head = git_builder.commit("New logo", {"src/logo.png": bytes(range(255, -1, -1)) * 4,
                                           "src/calc.py": "x = 2\n",
                                           "src/icon.bin": b"\x00\xff\xfe" * 100})
    git_builder.git("checkout", "-q", "main")
    git_builder.git("merge", "-q", "--no-ff", "-m", "Merge pull request #7", "logo")
    merge = git_builder.git("rev-parse", "HEAD")
    pull = PullFixture(7, "New logo", "", "2024-02-01T00:00:00Z", "2024-02-02T00:00:00Z", base,
                       head, [head], merge_commit_sha=merge, merged_at="2024-02-02T00:00:00Z")
    sample = Sample(git_builder.path, [pull], [])
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        mined = mine(sample, gh)
        assert gh.count("pull-diff") == 0  # read from the clone
    assert "GIT binary patch" in mined[0].diff
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(git_builder.path), str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "checkout", "-q", base], check=True)
    subprocess.run(["git", "-C", str(work), "apply", "-"], input=mined[0].diff.encode(),
                   check=True)
    for name in ("src/logo.png", "src/icon.bin", "src/calc.py"):
        assert (work / name).read_bytes() == _show(sample, merge, name), name


def _show(sample: Sample, commit: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(sample.git_dir), "show", f"{commit}:{path}"],
                          capture_output=True, check=True).stdout


def test_since_until_and_limit_choose_which_pull_requests_are_mined(sample: Sample) -> None:
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        assert [c.number for c in mine(sample, gh, since="2024-01-08")] == [2, 3, 5]
        assert [c.number for c in mine(sample, gh, until="2024-01-10")] == [1, 2]
        assert [c.number for c in mine(sample, gh, limit=2)] == [3, 5]


def test_filters_keep_and_reject_with_reasons(sample: Sample) -> None:
    """`swegc mine` filters with the same code as `swegc compile` (candidates.apply_filters)."""
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        raw = mine(sample, gh)
        api = gh.base_url

    def kept_and_rejected(filters: Filters):
        spec = spec_for(sample, api, filters=filters)
        return apply_filters(spec, raw, lambda: GitRepo.open(sample.git_dir))

    kept, rejected = kept_and_rejected(Filters(require_linked_issue=True))
    assert [c.number for c in kept] == [1, 2, 3]
    assert [(r.instance_id, r.reason) for r in rejected] == [(raw[-1].instance_id, "no_linked_issue")]
    cases = {
        Filters(labels=("bug",)): [1],
        Filters(exclude_labels=("docs",), must_touch_tests=False): [1, 2, 3],
        Filters(base_branch="develop"): [],
        Filters(max_files=1, must_touch_tests=False, must_touch_code=False): [5],
        Filters(max_lines=4): [1],
        Filters(must_touch_tests=False, must_touch_code=False): [1, 2, 3, 5],
        Filters(numbers=(2,)): [2],
        Filters(since="2024-01-09", until="2024-01-11"): [3],
    }
    for filters, numbers in cases.items():
        assert [c.number for c in kept_and_rejected(filters)[0]] == numbers, filters
    reasons = {r.instance_id.rsplit("-", 1)[1]: (r.reason, r.detail)
               for r in kept_and_rejected(Filters(max_lines=4))[1]}
    assert reasons == {"2": ("too_large", "9 lines changed (max_lines 4)"),
                       "3": ("too_large", "9 lines changed (max_lines 4)"),
                       "5": ("no_test_change", reasons["5"][1])}


def test_lite_needs_a_long_self_contained_statement_and_a_one_file_patch(
        sample: Sample) -> None:
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        first = {c.number: c for c in mine(sample, gh)}[1]
    assert lite_reasons(first, TESTS) == ["problem statement has 8 words (< 40)"]
    words = " ".join(["word"] * 40)
    long = replace(first, issues=(replace(first.issues[0], body=words),))
    assert is_lite(long, TESTS)
    linked = replace(long, issues=(replace(long.issues[0], body=words + " see #3"),))
    assert lite_reasons(linked, TESTS) == [
        "problem statement refers to another issue or pull request"]


def test_swegc_mine_writes_raw_filtered_and_lite_files(sample: Sample, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from swegc.cli import cli

    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        result = CliRunner().invoke(cli, ["mine", "--repo", sample.repo, "--api-url",
                                          gh.base_url, "--clone", str(sample.git_dir),
                                          "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    raw = [json.loads(line) for line in (tmp_path / "raw" / "acme__widgets.jsonl").open()]
    assert [r["number"] for r in raw] == [1, 2, 3, 5]
    kept = (tmp_path / "candidates" / "acme__widgets.jsonl").read_text().splitlines()
    assert len(kept) == 4 and (tmp_path / "lite" / "acme__widgets.jsonl").exists()
    assert "4 merged pull requests" in result.output


def test_tokens_never_reach_errors(sample: Sample) -> None:
    secret = "ghp_" + "x" * 36
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues,
                       tokens=["ghp_" + "y" * 36]) as gh:
        with pytest.raises(Exception) as caught:
            mine_candidates(spec_for(sample, gh.base_url), None,
                            client=client(gh.base_url, [secret]))
    assert "401" in str(caught.value) and "Bad credentials" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value.args)


def test_mine_and_compile_read_a_github_spec_file_the_same_way(sample: Sample, tmp_path: Path) -> None:
    """`swegc mine specs/` and compile's candidate loading agree on the spec's filters."""
    from click.testing import CliRunner

    from swegc.cli import cli
    from swegc.compiler.candidates import load_candidates
    from swegc.compiler.spec.loader import load_specs

    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        specs = tmp_path / "specs"
        specs.mkdir()
        (specs / "widgets.yaml").write_text(
            "extends: swegc:pytest\n"
            f"repo: {sample.repo}\n"
            "source:\n"
            f"  clone: {sample.git_dir}\n"
            f"  github: {{api_url: {gh.base_url}, per_page: 2}}\n"
            "  filters: {require_linked_issue: true, must_touch_tests: false}\n"
            "tests: {files: ['tests/**']}\n"
            "version: {from: fixed, value: '1.0'}\n"
            "environments: [{python: '3.11'}]\n")
        result = CliRunner().invoke(cli, ["mine", str(specs), "--out", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
        kept, rejected = load_candidates(load_specs([specs])[0], None)
    mined = [json.loads(line)["number"]
             for line in (tmp_path / "out" / "candidates" / "acme__widgets.jsonl").open()]
    assert mined == [c.number for c in kept] == [1, 2, 3]
    assert [r.reason for r in rejected] == ["no_linked_issue"]
    rejected_file = (tmp_path / "out" / "candidates" / "acme__widgets.rejected.jsonl").read_text()
    assert json.loads(rejected_file)["reason"] == "no_linked_issue"
