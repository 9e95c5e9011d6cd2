"""A merged pull request's diff from a local clone, without any API call.

GitHub merges a pull request in one of three ways, and each leaves a different shape on the
base branch; the diff is taken from the commit the change was applied onto to the merge commit:

- merge commit (two parents): first parent .. merge commit;
- rebase merge (one parent, the PR's k commits replayed): ``M~k`` .. ``M``, recognised by the
  last k commit messages on the branch being the PR's commit messages;
- squash merge (one parent, one new commit): ``M^`` .. ``M``.

When the clone lacks the merge commit (fetch it first) or is not a directory, the caller falls
back to the API's ``application/vnd.github.v3.diff``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def _git(clone: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(clone), *args], capture_output=True,
                              check=False)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "surrogateescape")


def has_commit(clone: Path, sha: str) -> bool:
    return _git(clone, "cat-file", "-e", f"{sha}^{{commit}}") is not None


def applied_onto(clone: Path, merge_commit: str, pr_messages: Sequence[str]) -> str | None:
    """The commit a merged pull request was applied onto (see the module docstring)."""
    line = _git(clone, "rev-list", "--parents", "-n", "1", merge_commit)
    if line is None:
        return None
    parents = line.split()[1:]
    if not parents:
        return None  # a root commit: nothing to diff against
    if len(parents) >= 2:
        return parents[0]
    k = len(pr_messages)
    if k > 1:
        log = _git(clone, "log", "--first-parent", f"-n{k}", "--format=%B%x00", merge_commit)
        if log is not None:
            on_branch = [m.strip() for m in log.split("\x00")[:k]][::-1]
            if on_branch == [m.strip() for m in pr_messages]:
                onto = _git(clone, "rev-parse", f"{merge_commit}~{k}")
                return onto.strip() if onto else None
    return parents[0]


def local_diff(clone: Path | None, merge_commit: str | None,
               pr_messages: Sequence[str]) -> str | None:
    """``git diff`` of the pull request from the clone, or None when the clone cannot say."""
    if clone is None or merge_commit is None or not Path(clone).is_dir():
        return None
    if not has_commit(clone, merge_commit):
        return None
    base = applied_onto(clone, merge_commit, pr_messages)
    if base is None:
        return None
    return _git(clone, "-c", "diff.noprefix=false", "-c", "diff.mnemonicprefix=false",
                "diff", "--no-color", "--no-ext-diff", base, merge_commit)
