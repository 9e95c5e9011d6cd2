"""A merged pull request's diff from a local clone, without any API call.

GitHub merges a pull request in one of three ways, and each leaves a different shape on the
base branch; the diff is taken from the commit the change was applied onto to the merge commit:

- merge commit (two parents): first parent .. merge commit;
- rebase merge (one parent, the PR's k commits replayed): ``M~k`` .. ``M``, recognised by the
  last k commit messages on the branch being the PR's commit messages;
- squash merge (one parent, one new commit): ``M^`` .. ``M``.

The diff is read by ``swegc.compiler.patches.read_diff`` (``GitRepo.diff``: ``--binary
--full-index``), the reader ``swegc compile`` uses, so binary changes and non-UTF-8 files of a
mined pull request apply with ``git apply`` as they do for any other candidate.

When the clone lacks the merge commit (fetch it first), is not a directory, or the diff cannot
be kept as text, the caller falls back to the API's ``application/vnd.github.v3.diff``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from swegc.git import GitError, GitRepo


def applied_onto(repo: GitRepo, merge_commit: str, pr_messages: Sequence[str]) -> str | None:
    """The commit a merged pull request was applied onto (see the module docstring)."""
    parents = repo.parents(merge_commit)
    if not parents:
        return None  # a root commit: nothing to diff against
    if len(parents) >= 2:
        return parents[0]
    k = len(pr_messages)
    if k > 1:
        on_branch = [e.message.strip() for e in
                     repo.log(f"-n{k}", merge_commit, first_parent=True)][::-1]
        if on_branch == [m.strip() for m in pr_messages]:
            return repo.rev_parse(f"{merge_commit}~{k}")
    return parents[0]


def local_diff(clone: Path | None, merge_commit: str | None,
               pr_messages: Sequence[str]) -> str | None:
    """The pull request's diff from the clone, or None when the clone cannot say."""
    from swegc.compiler.patches import PatchError, read_diff

    if clone is None or merge_commit is None or not Path(clone).is_dir():
        return None
    try:
        repo = GitRepo.open(clone)
        if not repo.has_commit(merge_commit):
            return None
        base = applied_onto(repo, merge_commit, pr_messages)
        return None if base is None else read_diff(repo, base, merge_commit)
    except (GitError, PatchError):
        return None
