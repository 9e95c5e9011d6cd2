"""Bugs that really happened: a merged pull request's code change, undone at a later commit.

A pull request that fixed something and added tests for it leaves, at any later commit where
its tests still exist, a ready-made task: revert its non-test part and the tests that came with
it (and others) fail again. Its linked issue, when known, is a problem statement a person wrote.

Pull requests are read from the first-parent history exactly as ``compile`` reads a clone
(``candidates.py``: ``Merge pull request #N`` merge commits and ``Title (#N)`` squash commits),
and their diff is split into code and tests with the spec's test globs (``patches.py``). The
reverse is tried in a throwaway index (``git apply --cached -R`` on the commit's tree), never in
the clone's work tree, so the clone is left as it was and nothing is checked out.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from unidiff import PatchSet

# The history is read by the compiler's own readers, so that a pull request means the same
# here as in `swegc compile` (their names are private to candidates.py, their rules are not).
from swegc.compiler.candidates import _from_merge, _from_squash
from swegc.compiler.mining.links import keyword_references
from swegc.compiler.patches import PatchError, file_sections, read_diff, split_patch
from swegc.compiler.synthesis.bugs import BugCandidate
from swegc.compiler.synthesis.targets import enclosing, functions_in
from swegc.dates import instant
from swegc.git import GitError, GitRepo, git_env
from swegc.records import Candidate, LinkedIssue

log = logging.getLogger(__name__)


def revert_candidates(clone: Path, commit: str, *, test_globs: Sequence[str], limit: int,
                      since: str | None = None, repo: str = "",
                      issues: Mapping[int, LinkedIssue] | None = None) -> list[BugCandidate]:
    """Up to ``limit`` reverts of pull requests merged at or before ``commit``, newest first.

    A pull request qualifies when it changed code and tests, every test file it left is still
    at ``commit``, and the reverse of its code change applies there. ``since`` (an ISO date)
    skips pull requests merged before it. ``repo`` ("owner/name") lets a closing keyword name
    the issue as ``owner/name#N``; ``issues`` (number -> issue, e.g. the spec's
    ``source.git.issues`` file) gives the linked issues' text.
    """
    git = GitRepo.open(clone)
    head = git.rev_parse(commit)
    floor = instant(since) if since else None
    found: list[BugCandidate] = []
    for pull in _pull_requests(git, head, repo):
        if len(found) >= limit:
            break
        merged = instant(pull.merged_at, lenient=True)
        if floor is not None and merged is not None and merged < floor:
            continue
        candidate = _revert(git, head, pull, test_globs, repo, issues or {})
        if candidate is not None:
            found.append(candidate)
    return found


def _pull_requests(git: GitRepo, head: str, slug: str) -> Iterator[Candidate]:
    """The merged pull requests of ``head``'s first-parent history, newest first, once each."""
    seen: set[int] = set()
    for entry in git.first_parent_log(head):
        if len(entry.parents) >= 2:
            pull = _from_merge(slug, git, entry, None)
        elif len(entry.parents) == 1:
            pull = _from_squash(slug, entry, None)
        else:
            pull = None
        if pull is not None and pull.number not in seen:
            seen.add(pull.number)
            yield pull


def _revert(git: GitRepo, head: str, pull: Candidate, test_globs: Sequence[str], slug: str,
            issues: Mapping[int, LinkedIssue]) -> BugCandidate | None:
    assert pull.merge_commit is not None
    try:
        split = split_patch(read_diff(git, pull.base_commit, pull.merge_commit), test_globs)
    except (PatchError, GitError) as exc:
        log.debug("#%d: %s", pull.number, exc)
        return None
    if not split.patch.strip() or not split.test_patch.strip():
        return None  # no code to revert, or no test of its own to tell the bug
    kept_tests = [s.path for s in file_sections(split.test_patch) if not s.deleted]
    if any(git.show_file(head, path) is None for path in kept_tests):
        return None  # its tests are gone: whatever it fixed is judged by nothing it brought
    patches = _reverse_at(git, head, split.patch)
    if patches is None:
        return None
    bug_patch, fix_patch = patches
    files = tuple(s.path for s in file_sections(bug_patch))
    messages = [pull.title, pull.body, *pull.commit_messages]
    linked = [n for n in keyword_references(slug, messages) if n != pull.number]
    known = [issues[n] for n in linked if n in issues]
    return BugCandidate(
        strategy="pr_revert", kind="", bug_patch=bug_patch, fix_patch=fix_patch,
        files=files, functions=_functions(git, head, bug_patch),
        description=f"revert of #{pull.number} ({pull.title}) at {head[:12]}",
        extra={"pull_number": pull.number, "title": pull.title,
               "merge_commit": pull.merge_commit, "test_files": kept_tests,
               "issue_numbers": linked,
               "issues": [{"number": i.number, "title": i.title, "body": i.body}
                          for i in known]})


def _reverse_at(git: GitRepo, head: str, patch: str) -> tuple[str, str] | None:
    """(bug, fix): the diffs from ``head`` to ``head`` with ``patch`` reversed and back, or
    None when the reverse does not apply there or changes nothing.

    The reverse is made in a throwaway index whose new blobs go to a throwaway object folder
    (the clone's objects are read through it as an alternate), so the clone gains nothing: not
    even an unreachable blob of the reverted files.
    """
    objects = Path(git.run("rev-parse", "--path-format=absolute", "--git-path", "objects").strip())
    with tempfile.TemporaryDirectory(prefix="swegc-revert-") as tmp:
        os.mkdir(os.path.join(tmp, "objects"))
        env = git_env({"GIT_INDEX_FILE": os.path.join(tmp, "index"),
                       "GIT_OBJECT_DIRECTORY": os.path.join(tmp, "objects"),
                       "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects)})

        def run(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(["git", *args], cwd=git.path, env=env, input=input,
                                  capture_output=True, check=False)

        def diff(base: str, other: str) -> bytes:
            proc = run("-c", "core.quotePath=true", "-c", "diff.noprefix=false", "diff",
                       "--binary", "--full-index", "-M", "--no-color", "--no-ext-diff",
                       "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/", base, other, "--")
            if proc.returncode != 0:
                raise GitError(f"{git.name}: git diff {base[:12]} {other[:12]} failed: "
                               f"{proc.stderr.decode(errors='replace').strip()}")
            return proc.stdout

        if run("read-tree", head).returncode != 0:
            raise GitError(f"{git.name}: cannot read the tree of {head}")
        if run("apply", "--cached", "-R", "--binary", "-", input=patch.encode()).returncode != 0:
            return None
        written = run("write-tree")
        if written.returncode != 0:
            raise GitError(f"{git.name}: cannot write the reverted tree: "
                           f"{written.stderr.decode(errors='replace').strip()}")
        tree = written.stdout.decode().strip()
        try:  # a file that is not UTF-8 text would need the compiler's binary re-reading
            bug, fix = diff(head, tree).decode("utf-8"), diff(tree, head).decode("utf-8")
        except UnicodeDecodeError:
            return None
        return (bug, fix) if bug.strip() else None


def _functions(git: GitRepo, head: str, bug_patch: str) -> tuple[str, ...]:
    """``path:qualname`` of the Python functions (as they are at ``head``) that the bug
    changes: a removed line's function, or, for a line only added, the function it lands in."""
    found: dict[str, None] = {}
    for patched in PatchSet(bug_patch):
        path = patched.path
        if not path.endswith(".py") or patched.is_added_file:
            continue
        content = git.show_file(head, path)
        if content is None:
            continue
        targets = functions_in(path, content.decode("utf-8", "replace"))
        for hunk in patched:
            before = hunk.source_start
            for line in hunk:
                if line.source_line_no is not None:
                    before = line.source_line_no
                if line.is_removed or line.is_added:
                    target = enclosing(targets, before)
                    if target is not None:
                        found[f"{path}:{target.qualname}"] = None
    return tuple(found)
