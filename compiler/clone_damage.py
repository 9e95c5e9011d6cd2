"""What a clone that git cannot read lacks, which commits need it, and how to repair it.

A snapshot or a partial fetch can lose objects (an old blob, say): ``git bundle`` then refuses
the history, and the message git prints ("unable to read 4d5672...") names neither the file nor
the commit. So the failure lists each missing object with the paths and commits that hold it,
and says what to do both when the origin still has the objects (fetch them again) and when it
does not (no fetch can help then).
"""

from __future__ import annotations

from typing import Any

from swegc.compiler.spec.model import RepoSpec
from swegc.git import GitError, GitRepo
from swegc.reasons import Reason

MAX_NAMED = 5  # missing objects named with their paths and commits; the rest are counted


def missing_objects(repo: GitRepo, rev: str) -> list[str]:
    """The objects the history up to ``rev`` needs and the clone lacks (empty when git cannot
    even list them)."""
    try:
        listed = repo.run("rev-list", "--objects", "--missing=print", rev)
    except GitError:
        return []
    return [line[1:].split()[0] for line in listed.splitlines() if line.startswith("?")]


def object_users(repo: GitRepo, sha: str, rev: str) -> list[tuple[str, str]]:
    """(commit, path) of each commit up to ``rev`` that writes the blob ``sha`` at a path."""
    try:
        out = repo.run("log", rev, f"--find-object={sha}", "--raw", "--no-abbrev",
                       "--format=commit %H")
    except GitError:
        return []
    users: list[tuple[str, str]] = []
    commit = ""
    for line in out.splitlines():
        if line.startswith("commit "):
            commit = line.split()[1]
        elif line.startswith(":") and "\t" in line:
            fields, path = line.split("\t", 1)
            if fields.split()[3] == sha:  # the object is what the commit writes there
                users.append((commit, path))
    return users


def describe(repo: GitRepo, rev: str) -> tuple[list[str], int]:
    """A line per missing object (up to ``MAX_NAMED``) with its paths and commits, and how many
    objects are missing in all."""
    missing = missing_objects(repo, rev)
    lines = []
    for sha in missing[:MAX_NAMED]:
        users = object_users(repo, sha, rev)
        where = ", ".join(f"{path} in commit {commit[:12]}" for commit, path in users[:3])
        more = f" and {len(users) - 3} more" if len(users) > 3 else ""
        lines.append(f"missing {sha}" + (f" (written as {where}{more})" if where else ""))
    if len(missing) > MAX_NAMED:
        lines.append(f"... and {len(missing) - MAX_NAMED} more missing objects")
    return lines, len(missing)


def clone_failure(spec: RepoSpec, repo: GitRepo, exc: GitError, rev: str) -> dict[str, Any]:
    """An env or instance failure for a clone git cannot read: what is missing, where, and how to
    repair the clone. ``summary`` is its console line. Not stored: the next compile tries
    again once the clone is repaired."""
    named, count = describe(repo, rev)
    if spec.source.clone is not None and spec.source.clone.is_file():
        repair = f"make the bundle {spec.source.clone} again from a complete clone"
    else:
        repair = (f"fetch every object again with `git -C {repo.path} fetch --refetch origin` "
                  f"(or clone {spec.repo} again), then check with `git -C {repo.path} fsck`. If "
                  "the origin lacks them too (the fetch fails, or fsck still lists them), no "
                  "fetch can repair the clone: the history up to those commits cannot be "
                  "bundled as it is; leave out the pull requests that need it "
                  "(instances.<id>.skip), or build from a copy of the history rewritten without "
                  "those objects")
    if count:
        first = named[0].split(" (")[0].removeprefix("missing ")
        summary = (f"the clone of {spec.repo} lacks {count} object(s) that the history up to "
                   f"{rev[:12]} needs (first {first}); the report names the paths and commits "
                   "that need them and how to repair the clone")
    else:
        summary = (f"the clone of {spec.repo} cannot be read (`git -C {repo.path} fsck` lists "
                   "what is missing); the report says how to repair it")
    detail = "\n".join([str(exc), *named, f"hint: {repair}. Other repositories are built as "
                        "usual."])
    return {"reason": Reason.CLONE_UNREADABLE, "log": None, "detail": detail, "summary": summary}
