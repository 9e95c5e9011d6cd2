"""GitRepo reads clones, bare repositories and bundles, and turns failures into GitError."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from swegc.git import BUNDLE_TIP_REF, GitError, GitRepo, git_env


def git(cwd: Path, *args: str, hour: int = 0) -> str:
    when = f"2024-02-01T{hour:02d}:00:00+02:00"
    env = git_env({"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com",
                   "GIT_COMMITTER_NAME": "C", "GIT_COMMITTER_EMAIL": "c@example.com",
                   "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when})
    return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, env=env,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "src"
    root.mkdir()
    git(root, "-c", "init.defaultBranch=main", "init", "-q", "--template=")
    shas = []
    for hour in range(1, 4):
        (root / "f.txt").write_text(f"{hour}\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"commit {hour}\n\nbody {hour}", hour=hour)
        shas.append(git(root, "rev-parse", "HEAD"))
    git(root, "tag", "v1", shas[0])
    git(root, "tag", "-a", "v2", "-m", "two", shas[1], hour=5)
    return root, shas


def test_commit_info_gives_utc_dates_subject_and_body(clone):
    root, shas = clone
    info = GitRepo.open(root).commit_info(shas[1])
    assert info == ("2024-02-01T00:00:00Z", "2024-02-01T00:00:00Z", "commit 2", "body 2")


def test_history_queries_answer_about_commits(clone):
    root, shas = clone
    repo = GitRepo.open(root)
    assert repo.rev_parse("v2") == shas[1]
    assert repo.parents(shas[2]) == (shas[1],)
    assert repo.is_ancestor(shas[0], shas[2]) and not repo.is_ancestor(shas[2], shas[0])
    assert repo.merge_base(shas[1], shas[2]) == shas[1]
    assert repo.tags_merged_into(shas[1]) == {"v1": shas[0], "v2": shas[1]}
    assert [e.sha for e in repo.first_parent_log("main")] == shas[::-1]
    assert repo.show_file(shas[0], "f.txt") == b"1\n"
    assert repo.show_file(shas[0], "missing.txt") is None


def test_failures_name_the_repository_and_the_command(clone):
    root, _ = clone
    repo = GitRepo.open(root)
    with pytest.raises(GitError, match="no commit 'nope'"):
        repo.rev_parse("nope")
    with pytest.raises(GitError, match=r"src: `git cat-file blob nope` failed \(exit 128\)"):
        repo.run("cat-file", "blob", "nope")
    with pytest.raises(GitError, match="not a git repository"):
        GitRepo.open(root / "..")


def test_a_bundle_of_a_range_holds_exactly_the_objects_between_and_leaves_no_refs(clone, tmp_path):
    root, shas = clone
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(root), str(bare)], check=True)
    repo = GitRepo.open(bare)
    refs_before = repo.run("for-each-ref")
    bundle = repo.create_bundle(tmp_path / "out" / "delta.bundle", shas[2], exclude=[shas[0]],
                                tags={"v2": shas[1]})
    assert repo.run("for-each-ref") == refs_before
    heads = repo.run("bundle", "list-heads", str(bundle)).split("\n")
    assert heads[:2] == [f"{shas[2]} {BUNDLE_TIP_REF}", f"{shas[1]} refs/tags/v2"]
    verify = repo.run("bundle", "verify", str(bundle))
    assert shas[0] in verify  # the excluded commit is a prerequisite, not content
    target = tmp_path / "target"
    git(tmp_path, "init", "-q", "--bare", str(target))
    git(target, "fetch", "-q", str(root), "refs/tags/v1:refs/tags/v1")
    git(target, "fetch", "-q", str(bundle), f"{BUNDLE_TIP_REF}:refs/heads/tip")
    assert git(target, "rev-parse", "tip") == shas[2]


def test_a_bundle_file_is_cloned_once_into_the_cache_and_reused(clone, tmp_path):
    root, shas = clone
    bundle = GitRepo.open(root).create_bundle(tmp_path / "full.bundle", "main",
                                              tags={"v1": shas[0]})
    cache = tmp_path / "cache"
    first = GitRepo.open(bundle, cache=cache)
    again = GitRepo.open(bundle, cache=cache)
    assert first.path == again.path and first.path.parent == cache
    assert first.rev_parse(BUNDLE_TIP_REF) == shas[2]
    assert first.tags_merged_into(shas[2]) == {"v1": shas[0]}
    assert first.name == str(bundle)
    assert len(list(cache.iterdir())) == 1
