"""The clone's history as the draft reads it: files at commits, and the commits that matter.

Everything is read from git objects (``git cat-file --batch``, ``git log``, ``git ls-tree``),
never by checking anything out: the user's clone, its work tree and its index stay exactly as
they were, and a bare repository drafts as well as a work tree.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from swegc.git import GitError, GitRepo, git_env

# The files that say how a project is installed and tested: a commit that changes one may start
# a new era of the environment. Pathspecs, so one `git log` finds them all.
DEPENDENCY_PATHSPECS = (
    "setup.py", "setup.cfg", "pyproject.toml", "tox.ini", "pytest.ini", "noxfile.py",
    ":(glob)requirements*", ":(glob)requirements/**", ":(glob)*/requirements*.txt",
    ":(glob)*requirements*.txt", ":(glob)tests/requirements*", ":(glob)environment*.y*ml",
    ":(glob).github/workflows/*", ".travis.yml", ".gitmodules", "package.json",
    ":(glob)*/package.json", "Makefile", "meson.build", "CMakeLists.txt",
)
_MERGE = re.compile(r"^Merge pull request #(\d+) from ")
_SQUASH = re.compile(r"\(#(\d+)\)\s*$")


@dataclass(frozen=True)
class Commit:
    """One commit of the first-parent history: what the draft dates and groups by."""

    sha: str
    date: str  # committer date, YYYY-MM-DD
    subject: str
    parents: int = 1

    @property
    def pull(self) -> int | None:
        """The pull request this commit merged, read as ``source.git`` reads it: a merge
        commit "Merge pull request #N ..." or "... (#N)", or a one-parent commit "... (#N)"."""
        if self.kind is None:
            return None
        match = _MERGE.match(self.subject) or _SQUASH.search(self.subject)
        return int(match.group(1)) if match else None

    @property
    def kind(self) -> str | None:
        """"merge" or "squash": which of ``source.git``'s switches (``merges``, ``squash``)
        reads this commit; None for a commit that names no pull request."""
        if self.parents >= 2 and (_MERGE.match(self.subject) or _SQUASH.search(self.subject)):
            return "merge"
        return "squash" if self.parents == 1 and _SQUASH.search(self.subject) else None


class History:
    """Reads one clone: a long-lived ``git cat-file --batch`` answers file reads in bulk."""

    def __init__(self, clone: Path):
        self.repo = GitRepo.open(clone)
        self._batch: subprocess.Popen[bytes] | None = None

    def close(self) -> None:
        if self._batch is not None:
            assert self._batch.stdin is not None
            self._batch.stdin.close()
            self._batch.wait()
            self._batch = None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- commits -------------------------------------------------------------------------

    def head(self) -> str:
        return self.repo.rev_parse("HEAD")

    def first_parent(self, *paths: str) -> list[Commit]:
        """The first-parent history of HEAD, oldest first (only commits touching ``paths``
        when given: merges count by their change against the first parent)."""
        args = ["log", "--first-parent", "--date=format:%Y-%m-%d",
                "--format=%H%x1f%cd%x1f%P%x1f%s", "HEAD"]
        if paths:
            args += ["--", *paths]
        out = self.repo.run(*args)
        commits = []
        for line in out.splitlines():
            sha, date, parents, subject = (line.split("\x1f", 3) + ["", "", ""])[:4]
            commits.append(Commit(sha, date, subject, len(parents.split())))
        return commits[::-1]

    def describe(self, shas: list[str]) -> dict[str, str]:
        """The nearest tag of each commit (``git describe --tags --abbrev=0``); commits with no
        tag behind them are left out."""
        found: dict[str, str] = {}
        for start in range(0, len(shas), 200):
            chunk = shas[start:start + 200]
            # --always answers every commit (its short sha where no tag is behind it), so one
            # call serves the chunk and its lines line up with the commits asked.
            out = self.repo.run("describe", "--tags", "--abbrev=0", "--always", *chunk)
            for sha, tag in zip(chunk, out.splitlines()):
                if tag and not sha.startswith(tag.strip()):
                    found[sha] = tag.strip()
        return found

    def tags(self) -> list[str]:
        return [t for t in self.repo.run("tag", "--merged", "HEAD").splitlines() if t]

    def remote_url(self) -> str | None:
        try:
            return self.repo.run("config", "--get", "remote.origin.url").strip() or None
        except GitError:
            return None

    # ---- files ---------------------------------------------------------------------------

    def files(self, commit: str) -> tuple[str, ...]:
        """Every file path in the tree at ``commit``."""
        return _ls_tree(self.repo.path, commit)

    def read(self, commit: str, path: str) -> str | None:
        """The text of ``path`` at ``commit``, or None where it is not a file there."""
        batch = self._process()
        assert batch.stdin is not None and batch.stdout is not None
        batch.stdin.write(f"{commit}:{path}\n".encode())
        batch.stdin.flush()
        header = batch.stdout.readline().decode().split()
        if len(header) < 3 or header[1] != "blob":
            return None
        data = batch.stdout.read(int(header[2]) + 1)[:-1]
        return data.decode("utf-8", "replace")

    def _process(self) -> subprocess.Popen[bytes]:
        if self._batch is None:
            self._batch = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.repo.path,
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, env=git_env())
        return self._batch


@lru_cache(maxsize=256)
def _ls_tree(path: Path, commit: str) -> tuple[str, ...]:
    out = subprocess.run(["git", "ls-tree", "-r", "-z", "--name-only", commit], cwd=path,
                         capture_output=True, env=git_env(), check=True).stdout
    return tuple(name.decode("utf-8", "replace") for name in out.split(b"\x00") if name)
