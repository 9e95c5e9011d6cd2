"""Mining runs against the GitHub stand-in: incremental reruns, rate limits, resuming."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from swegc.compiler.spec import model as specs
from swegc.compiler.mining.github_client import GithubClient
from swegc.compiler.mining.miner import mine_candidates
from swegc.compiler.spec.model import GithubSource, RepoSpec, SourceSpec, VersionSpec
from swegc.store import BuildStore
from swegc.testing.github_standin import GithubStandin, Sample, make_sample


@pytest.fixture()
def sample(tmp_path: Path) -> Sample:
    return make_sample(tmp_path / "widgets", extra_pulls=4)


def spec_for(sample: Sample, api_url: str) -> RepoSpec:
    return RepoSpec(path=Path("specs/widgets.yaml"), repo=sample.repo,
                    source=SourceSpec(kind="github", clone=sample.git_dir,
                                      github=GithubSource(api_url=api_url, per_page=3)),
                    tests=specs.TestsSpec(files=("tests/**",), command="pytest",
                                          parser="pytest"),
                    version=VersionSpec(strategy="fixed", value="1.0"), environments=())


def test_a_rerun_with_nothing_new_makes_only_conditional_requests(sample: Sample,
                                                                   tmp_path: Path) -> None:
    store = BuildStore(tmp_path / "store.sqlite")
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        first = mine_candidates(spec_for(sample, gh.base_url), store,
                                client=GithubClient(gh.base_url, []))
        before = len(gh.requests)
        again = mine_candidates(spec_for(sample, gh.base_url), store,
                                client=GithubClient(gh.base_url, []))
        rerun = gh.requests[before:]
    assert again == first and len(first) == 8
    assert [(r.kind, r.status, r.conditional) for r in rerun] == [("pulls-list", 304, True)]


def test_a_rerun_fetches_only_the_new_and_the_changed_pull_requests(sample: Sample,
                                                                     tmp_path: Path) -> None:
    store = BuildStore(tmp_path / "store.sqlite")
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        mine_candidates(spec_for(sample, gh.base_url), store, client=GithubClient(gh.base_url, []))
        gh.pulls[2] = replace(gh.pulls[2], title="Add sub() (renamed)",
                              updated_at="2024-03-01T00:00:00Z")
        before = len(gh.requests)
        again = {c.number: c for c in mine_candidates(spec_for(sample, gh.base_url), store,
                                                      client=GithubClient(gh.base_url, []))}
        rerun = gh.requests[before:]
    assert again[2].title == "Add sub() (renamed)" and len(again) == 8
    # page 1 changed (conditional, 200) and holds the watermark: one more page is not needed;
    # one GraphQL query for the one changed pull request; its issue #11 comes from the cache
    assert [(r.kind, r.status, r.conditional) for r in rerun] == [
        ("pulls-list", 200, True), ("graphql", 200, False)]


def test_every_token_spent_waits_for_the_reset_then_goes_on(sample: Sample) -> None:
    waits: list[float] = []
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        gh.exhaust(None, "core", reset_in=1.0)
        started = time.time()
        found = mine_candidates(spec_for(sample, gh.base_url), None,
                                client=GithubClient(gh.base_url, [],
                                                    sleep=lambda s: (waits.append(s),
                                                                     time.sleep(s))))
        elapsed = time.time() - started
        assert gh.count(status=403) == 1
    assert len(found) == 8
    assert len(waits) == 1 and 1.0 <= waits[0] <= 3.0 and elapsed >= 1.0


def test_a_spent_token_hands_over_to_the_next_without_waiting(sample: Sample) -> None:
    tokens = ["tok-one-" + "a" * 12, "tok-two-" + "b" * 12]
    lines: list[str] = []
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues,
                       tokens=tokens) as gh:
        gh.exhaust(tokens[0], "core", reset_in=3600)
        client = GithubClient(gh.base_url, tokens, progress=lines.append,
                              sleep=lambda s: pytest.fail("must not wait"))
        assert len(mine_candidates(spec_for(sample, gh.base_url), None, client=client,
                                   progress=lines.append)) == 8
        used = {r.token for r in gh.requests if r.status == 200}
    assert used == {tokens[1]}
    assert any("switching to token 2/2" in line for line in lines)
    assert any("token 2/2 core" in line for line in lines)  # the remaining budget is shown
    assert not any(t in line for line in lines for t in tokens)


def test_a_secondary_rate_limit_backs_off_as_retry_after_says(sample: Sample) -> None:
    waits: list[float] = []
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        gh.secondary_limit_next(retry_after=2)
        found = mine_candidates(spec_for(sample, gh.base_url), None,
                                client=GithubClient(gh.base_url, [], sleep=waits.append))
    assert len(found) == 8 and waits == [2.0]


def test_an_interrupted_run_resumes_without_asking_again(sample: Sample,
                                                         tmp_path: Path) -> None:
    store = BuildStore(tmp_path / "store.sqlite")

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(line: str) -> None:
        if "fetched 2" in line:
            raise Interrupted

    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as gh:
        with pytest.raises(Interrupted):
            mine_candidates(spec_for(sample, gh.base_url), store, progress=stop_after_first_batch,
                            client=GithubClient(gh.base_url, []), batch_size=2)
        first_part = gh.count("graphql")
        assert first_part == 1
        before = len(gh.requests)
        resumed = mine_candidates(spec_for(sample, gh.base_url), store,
                                  client=GithubClient(gh.base_url, []), batch_size=2)
        rerun = gh.requests[before:]
    with GithubStandin(sample.repo, sample.git_dir, sample.pulls, sample.issues) as fresh:
        whole = mine_candidates(spec_for(sample, fresh.base_url), None,
                                client=GithubClient(fresh.base_url, []), batch_size=2)
        whole_run = fresh.count("graphql")
    assert resumed == whole
    # the batch finished before the interruption is not asked for again: only the listing is
    assert sum(1 for r in rerun if r.kind == "graphql") == whole_run - first_part
    assert {r.kind for r in rerun} == {"pulls-list", "graphql"}
