"""Bugs that really happened: a merged pull request's code change, undone at a later commit.

A pull request that fixed something and added tests for it leaves, at any later commit where
its tests still exist, a ready-made task: revert its non-test part and the tests that came with
it (and others) fail again. Its linked issue, when known, is a problem statement a person wrote.

Pull requests are read from the first-parent history exactly as ``compile`` reads a clone
(``candidates.py``: merge commits ``Merge pull request #N`` or ``Title (#N)``, and squash
commits ``Title (#N)``), and their diff is split into code and tests with the spec's test globs
(``patches.py``). The reverse is tried in a throwaway index (``git apply --cached -R`` on the
commit's tree), never in the clone's work tree, so the clone is left as it was and nothing is
checked out.
"""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from unidiff import PatchSet

# The history is read by the compiler's own readers, so that a pull request means the same
# here as in `swegc compile`.
from swegc.compiler.candidates import pull_request_commits, read_pull_request
from swegc.compiler.mining.links import keyword_references
from swegc.compiler.patches import (DEV_NULL, PatchError, file_sections, read_diff, split_patch,
                                    unquote_path)
from swegc.compiler.synthesis.bugs import BugCandidate
from swegc.compiler.synthesis.targets import enclosing, functions_in
from swegc.dates import instant
from swegc.git import GitError, GitRepo, git_env
from swegc.records import Candidate, LinkedIssue

log = logging.getLogger(__name__)


def revert_candidates(clone: Path, commit: str, *, test_globs: Sequence[str], limit: int,
                      since: str | None = None, repo: str = "",
                      issues: Mapping[int, LinkedIssue] | None = None,
                      on_top: str = "") -> list[BugCandidate]:
    """Up to ``limit`` reverts of pull requests merged at or before ``commit``, newest first.

    A pull request qualifies when it changed code and tests, every test file it left is still
    at ``commit``, the reverse of its code change applies there, and it changes more than
    comments and docstrings. ``since`` (an ISO date)
    skips pull requests merged before it. ``repo`` ("owner/name") lets a closing keyword name
    the issue as ``owner/name#N``; ``issues`` (number -> issue, e.g. the spec's
    ``source.git.issues`` file) gives the linked issues' text.

    ``on_top`` is a diff applied to ``commit`` first (an instance's gold patch: its image holds
    the fixed tree, not the commit), so that the bug and fix patches are relative to that tree
    and apply there. When it does not apply to ``commit``, there are no reverts.
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
        candidate = _revert(git, head, on_top, pull, test_globs, repo, issues or {})
        if candidate is not None:
            found.append(candidate)
    return found


def _pull_requests(git: GitRepo, head: str, slug: str) -> Iterator[Candidate]:
    """The merged pull requests of ``head``'s first-parent history, newest first, once each;
    each read only when asked for, since ``revert_candidates`` stops at its limit."""
    for landed in pull_request_commits(git, head):
        pull = read_pull_request(slug, git, landed.entry, None)
        if pull is not None:
            yield pull


def _revert(git: GitRepo, head: str, on_top: str, pull: Candidate, test_globs: Sequence[str],
            slug: str, issues: Mapping[int, LinkedIssue]) -> BugCandidate | None:
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
    reverse = _reverse_at(git, head, on_top, split.patch)
    if reverse is None:
        return None
    messages = [pull.title, pull.body, *pull.commit_messages]
    linked = [n for n in keyword_references(slug, messages) if n != pull.number]
    known = [issues[n] for n in linked if n in issues]
    return BugCandidate(
        strategy="pr_revert", kind="", bug_patch=reverse.bug, fix_patch=reverse.fix,
        files=tuple(s.path for s in file_sections(reverse.bug)),
        functions=_functions(reverse.bug, reverse.sources),
        description=f"revert of #{pull.number} ({pull.title}) at {head[:12]}",
        extra={"pull_number": pull.number, "title": pull.title,
               "merge_commit": pull.merge_commit, "test_files": kept_tests,
               "issue_numbers": linked,
               "issues": [{"number": i.number, "title": i.title, "body": i.body}
                          for i in known]})


@dataclass(frozen=True)
class _Reverse:
    bug: str  # the fixed tree -> the tree with the pull request's code undone
    fix: str  # and back
    sources: dict[str, str]  # the Python files the bug changes, as the fixed tree has them


def _reverse_at(git: GitRepo, head: str, on_top: str, patch: str) -> _Reverse | None:
    """The reverse of ``patch`` on ``head``'s tree (with ``on_top`` applied first), or None
    when it does not apply there or changes nothing.

    It is made in a throwaway index whose new blobs go to a throwaway object folder (the
    clone's objects are read through it as an alternate), so the clone gains nothing: not even
    an unreachable blob of the reverted files.
    """
    objects = Path(git.run("rev-parse", "--path-format=absolute", "--git-path", "objects").strip())
    with tempfile.TemporaryDirectory(prefix="swegc-revert-") as tmp:
        os.mkdir(os.path.join(tmp, "objects"))
        env = git_env({"GIT_INDEX_FILE": os.path.join(tmp, "index"),
                       "GIT_OBJECT_DIRECTORY": os.path.join(tmp, "objects"),
                       "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects)})

        def run(*args: str, input: str = "") -> bytes | None:
            proc = subprocess.run(["git", *args], cwd=git.path, env=env, input=input.encode(),
                                  capture_output=True, check=False)
            return proc.stdout if proc.returncode == 0 else None

        def tree() -> str:
            written = run("write-tree")
            if written is None:
                raise GitError(f"{git.name}: cannot write a tree in a throwaway index")
            return written.decode().strip()

        if run("read-tree", head) is None:
            raise GitError(f"{git.name}: cannot read the tree of {head}")
        if on_top.strip() and run("apply", "--cached", "--binary", "-",
                                  input=on_top.rstrip("\n") + "\n") is None:
            return None
        fixed = tree()
        if run("apply", "--cached", "-R", "--binary", "-", input=patch) is None:
            return None
        reverted = tree()
        bug, fix = run(*_DIFF, fixed, reverted, "--"), run(*_DIFF, reverted, fixed, "--")
        if bug is None or fix is None:
            raise GitError(f"{git.name}: cannot diff {fixed[:12]} and {reverted[:12]}")
        try:  # a file that is not UTF-8 text would need the compiler's binary re-reading
            bug_text, fix_text = bug.decode("utf-8"), fix.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if not bug_text.strip():
            return None
        sources: dict[str, str] = {}
        behaviour = False  # whether the revert changes more than comments and docstrings
        for section in file_sections(bug_text):
            if not section.path.endswith(".py") or DEV_NULL in (section.source, section.target):
                behaviour = True
                continue
            before = run("show", f"{fixed}:{section.source}")
            after = run("show", f"{reverted}:{section.target}")
            if before is None or after is None:
                behaviour = True
                continue
            sources[section.source] = before.decode("utf-8", "replace")
            behaviour = behaviour or not _same_code(before, after)
        if not behaviour:
            return None  # only comments or docstrings come back: no test can fail
        return _Reverse(bug_text, fix_text, sources)


def _same_code(before: bytes, after: bytes) -> bool:
    """Whether two versions of a Python file differ only in comments, spacing and docstrings
    (a file that does not parse counts as changed)."""
    try:
        trees = [ast.parse(text) for text in (before, after)]
    except (SyntaxError, ValueError):
        return False
    for tree in trees:
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                    and body and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(trees[0]) == ast.dump(trees[1])


# GitRepo.diff's settings: the same text `swegc compile` reads a pull request's diff as.
_DIFF = ("-c", "core.quotePath=true", "-c", "diff.noprefix=false",
         "-c", "diff.mnemonicPrefix=false", "diff", "--binary", "--full-index", "-M",
         "--no-color", "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/")


def _functions(bug_patch: str, sources: Mapping[str, str]) -> tuple[str, ...]:
    """``path:qualname`` of the Python functions (as the fixed tree has them) that the bug
    changes: a removed line's function, or, for a line only added, the function it lands in."""
    found: dict[str, None] = {}
    for patched in PatchSet(bug_patch):
        path = unquote_path(patched.source_file)
        if path not in sources:
            continue
        targets = functions_in(path, sources[path])
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
