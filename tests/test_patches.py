"""Diffs read from git and split into patch/test_patch must apply back byte for byte."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from swegc.compiler.patches import PatchError, read_diff, split_patch, test_directives
from swegc.git import GitRepo, git_env

ENV = git_env({"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
               "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com",
               "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
               "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"})


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false",
                           *args], cwd=cwd, env=ENV, input=input, check=True,
                          capture_output=True).stdout.decode()


def write(root: Path, files: dict[str, bytes | None]) -> None:
    for name, data in files.items():
        path = root / name
        if data is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


BEFORE: dict[str, bytes | None] = {
    "pkg/core.py": b"def f():\n    return 1\n",
    "pkg/logo.png": b"\x89PNG\r\n\x1a\n\x00\x01\x02",
    "pkg/old_name.py": b"".join(b"line %d\n" % i for i in range(20)),
    "pkg/obsolete.py": b"gone = True\n",
    "pkg/legacy.txt": "caf\u00e9 cr\u00e8me\n".encode("latin-1"),
    "pkg/no_eol.py": b"x = 1\ny = 2",
    "run.sh": b"echo hi\n",
    "old.bin": b"\x00\xff\x00",
    "docs/with space.md": b"hello\n",
    "docs/\u00fcml\u00e4ut.md": "\u00fc\n".encode(),
    "tests/test_core.py": b"def test_f():\n    assert True\n",
    "tests/test_gone.py": b"def test_g():\n    pass\n",
}

AFTER: dict[str, bytes | None] = {
    "pkg/core.py": b"def f():\n    return 2\n",
    "pkg/logo.png": b"\x89PNG\r\n\x1a\n\x00\x09\x02\x03",
    "pkg/old_name.py": None,
    "pkg/new_name.py": b"".join(b"line %d\n" % i for i in range(20)) + b"line 20\n",
    "pkg/obsolete.py": None,
    "pkg/legacy.txt": "caf\u00e9 br\u00fbl\u00e9e\n".encode("latin-1"),
    "pkg/no_eol.py": b"x = 1\ny = 3",
    "old.bin": None,
    "new.bin": b"\x00\x01\xfe",
    "docs/with space.md": b"hello there\n",
    "docs/\u00fcml\u00e4ut.md": "\u00fc\u00fc\n".encode(),
    "tests/test_core.py": b"def test_f():\n    assert 2 == 2\n",
    "tests/test_gone.py": None,
    "tests/test_new.py": b"def test_new():\n    pass",
    "tests/data/blob.bin": b"\x00\x10\x20",
}


@pytest.fixture
def repo(tmp_path: Path) -> tuple[GitRepo, str, str]:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "-c", "init.defaultBranch=main", "init", "-q", "--template=")
    write(root, BEFORE)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "before")
    base = git(root, "rev-parse", "HEAD").strip()
    write(root, AFTER)
    os.chmod(root / "run.sh", 0o755)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "after")
    head = git(root, "rev-parse", "HEAD").strip()
    return GitRepo.open(root), base, head


def apply_at(repo: GitRepo, commit: str, tmp: Path, *patches: str) -> Path:
    """Check out ``commit`` into a fresh worktree and apply the patches with git apply."""
    tree = tmp / f"tree-{len(list(tmp.iterdir()))}"
    git(repo.path, "worktree", "add", "-q", "--detach", str(tree), commit)
    for number, text in enumerate(patches):
        patch_file = tmp / f"p{number}-{tree.name}.diff"
        patch_file.write_text(text, encoding="utf-8")
        git(tree, "apply", "--binary", str(patch_file))
    return tree


def snapshot(root: Path) -> dict[str, tuple[bytes, bool]]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            files[path.relative_to(root).as_posix()] = (path.read_bytes(),
                                                        os.access(path, os.X_OK))
    return files


def test_read_diff_is_utf8_text_that_re_emits_a_latin1_file_as_a_binary_patch(repo):
    git_repo, base, head = repo
    diff = read_diff(git_repo, base, head)
    assert isinstance(diff, str)
    legacy = diff[diff.index("diff --git a/pkg/legacy.txt"):]
    assert legacy.split("\n")[2] == "GIT binary patch"
    assert "rename from pkg/old_name.py" in diff
    assert "old mode 100644\nnew mode 100755" in diff
    assert "\\ No newline at end of file" in diff


def test_patch_plus_test_patch_restore_the_head_commit_byte_for_byte(repo, tmp_path):
    git_repo, base, head = repo
    split = split_patch(read_diff(git_repo, base, head), ["tests/**"])
    applied = apply_at(git_repo, base, tmp_path, split.test_patch, split.patch)
    expected = apply_at(git_repo, head, tmp_path)
    assert snapshot(applied) == snapshot(expected)


def test_each_side_applies_alone_to_the_base_commit(repo, tmp_path):
    git_repo, base, head = repo
    split = split_patch(read_diff(git_repo, base, head), ["tests/**"])
    code_only = snapshot(apply_at(git_repo, base, tmp_path, split.patch))
    assert code_only["pkg/core.py"][0] == b"def f():\n    return 2\n"
    assert code_only["tests/test_core.py"][0] == BEFORE["tests/test_core.py"]
    tests_only = snapshot(apply_at(git_repo, base, tmp_path, split.test_patch))
    assert "tests/test_gone.py" not in tests_only
    assert tests_only["tests/data/blob.bin"][0] == b"\x00\x10\x20"


def test_split_sorts_files_by_test_globs_including_deletions_and_binaries(repo):
    git_repo, base, head = repo
    split = split_patch(read_diff(git_repo, base, head), ["tests/**"])
    assert set(split.test_files) == {"tests/test_core.py", "tests/test_gone.py",
                                     "tests/test_new.py", "tests/data/blob.bin"}
    assert "pkg/new_name.py" in split.code_files
    assert "docs/with space.md" in split.code_files
    assert "docs/\u00fcml\u00e4ut.md" in split.code_files
    assert "run.sh" in split.code_files
    assert split.code_lines > 0 and split.test_lines > 0


def test_a_rename_counts_as_a_test_file_when_either_path_matches():
    diff = ("diff --git a/src/helpers.py b/tests/helpers.py\nsimilarity index 100%\n"
            "rename from src/helpers.py\nrename to tests/helpers.py\n")
    split = split_patch(diff, ["tests/"])
    assert split.test_files == ("tests/helpers.py",) and split.patch == ""
    split = split_patch(diff.replace("tests/", "lib/"), ["src/"])
    assert split.test_files == ("lib/helpers.py",)


def test_an_empty_diff_is_an_empty_patch_error():
    with pytest.raises(PatchError) as err:
        split_patch("", ["tests/**"])
    assert err.value.reason == "empty_patch"


def test_a_diff_without_git_headers_is_unparseable():
    with pytest.raises(PatchError) as err:
        split_patch("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", ["tests/**"])
    assert err.value.reason == "unparseable_diff"


def test_directives_list_added_and_modified_test_files_but_not_deleted_ones(repo):
    git_repo, base, head = repo
    split = split_patch(read_diff(git_repo, base, head), ["tests/**"])
    globs = ["**/test_*.py"]
    assert test_directives(split.test_patch, "paths", globs) == ["tests/test_core.py",
                                                                  "tests/test_new.py"]
    assert test_directives(split.test_patch, "modules", globs) == ["tests.test_core",
                                                                    "tests.test_new"]
    assert test_directives(split.test_patch, "none", globs) == []
    assert test_directives("", "paths", globs) == []
