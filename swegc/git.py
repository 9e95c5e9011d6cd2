"""A small typed wrapper over the git CLI for one local repository.

swegc reads repositories through ``git`` itself (no GitPython): the CLI is what users have,
its output formats are stable, and a subprocess per call is cheap next to building images.
Every command runs with a fixed environment (C locale, no system config, no pager, no
prompts) so that its output does not depend on the machine, and a failing command becomes a
``GitError`` naming the repository and the command rather than a traceback.

``GitRepo.open`` accepts a working clone, a bare repository, or a git bundle file; a bundle is
cloned once (bare) into a cache folder keyed by the bundle's sha256 and reused afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from swegc.errors import SwegcError

BUNDLE_TIP_REF = "refs/swegc/tip"
_UTC_FORMAT = "format-local:%Y-%m-%dT%H:%M:%SZ"


class GitError(SwegcError):
    """A git command failed, or a path is not a repository git can read."""


class CommitInfo(NamedTuple):
    """Dates (ISO 8601, UTC, ``...Z``) and message of one commit."""

    author_date: str
    committer_date: str
    subject: str
    body: str


@dataclass(frozen=True)
class LogEntry:
    """One commit as ``git log`` lists it: what candidate discovery needs, in one call."""

    sha: str
    parents: tuple[str, ...]
    author_date: str
    committer_date: str
    message: str

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0].strip()

    @property
    def body(self) -> str:
        rest = self.message.split("\n", 1)[1] if "\n" in self.message else ""
        return rest.strip("\n").rstrip()


def cache_root() -> Path:
    """Where swegc keeps clones of bundles: ``$SWEGC_CACHE`` or ``~/.cache/swegc``."""
    env = os.environ.get("SWEGC_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "swegc"


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The fixed environment every git command runs with."""
    env = {key: value for key, value in os.environ.items()
           if key in ("PATH", "HOME", "TMPDIR", "SSL_CERT_FILE", "GIT_SSL_CAINFO")}
    env.update({"LC_ALL": "C", "LANG": "C", "TZ": "UTC", "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_PAGER": "cat", "PAGER": "cat", "GIT_TERMINAL_PROMPT": "0",
                "GIT_OPTIONAL_LOCKS": "0"})
    env.setdefault("PATH", os.defpath)
    env.update(extra or {})
    return env


def _run_git(cwd: Path | None, args: Sequence[str], name: str, *,
             ok_codes: Iterable[int] = (0,), config: Mapping[str, str] | None = None,
             env: Mapping[str, str] | None = None,
             input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    cmd = ["git"]
    for key, value in (config or {}).items():
        cmd += ["-c", f"{key}={value}"]
    cmd += list(args)
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=git_env(env), input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH); swegc needs the git CLI") from None
    if proc.returncode not in tuple(ok_codes):
        shown = " ".join(args)
        if len(shown) > 200:
            shown = shown[:200] + " ..."
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = "; ".join(err[-3:]) if err else "(no message)"
        raise GitError(f"{name}: `git {shown}` failed (exit {proc.returncode}): {tail}")
    return proc


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_bundle(path: Path) -> bool:
    """Whether ``path`` is a git bundle file (v2 or v3 header)."""
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        return handle.read(20).startswith((b"# v2 git bundle", b"# v3 git bundle"))


class GitRepo:
    """One local repository (work tree or bare) and the git operations swegc needs."""

    def __init__(self, path: Path, name: str | None = None):
        self.path = Path(path)
        self.name = name or str(path)

    def __repr__(self) -> str:
        return f"GitRepo({self.name!r})"

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, cache: Path | None = None) -> GitRepo:
        """A clone, a bare repository or a bundle (cloned once into the cache, then reused)."""
        path = Path(path).expanduser()
        if not path.exists():
            raise GitError(f"{path}: no such repository, bare repository or bundle")
        if is_bundle(path):
            return cls._open_bundle(path, cache)
        if not path.is_dir():
            raise GitError(f"{path}: neither a git repository nor a git bundle")
        proc = _run_git(path, ["rev-parse", "--git-dir"], str(path), ok_codes=(0, 128))
        if proc.returncode != 0:
            raise GitError(f"{path}: not a git repository (give a clone, a bare repository "
                           "or a bundle file)")
        return cls(path.resolve(), name=str(path))

    @classmethod
    def _open_bundle(cls, bundle: Path, cache: Path | None) -> GitRepo:
        root = (cache or cache_root() / "clones")
        dest = root / f"{_sha256_file(bundle)[:32]}.git"
        name = str(bundle)
        if (dest / "HEAD").is_file():
            return cls(dest, name=name)
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".tmp-{uuid.uuid4().hex}.git"
        try:
            _run_git(None, ["clone", "--quiet", "--mirror", str(bundle.resolve()), str(tmp)],
                     name)
            try:
                os.rename(tmp, dest)
            except OSError:
                if not (dest / "HEAD").is_file():  # not another process winning the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return cls(dest, name=name)

    # -- running ---------------------------------------------------------------------------

    def run_bytes(self, *args: str, config: Mapping[str, str] | None = None,
                  input: bytes | None = None) -> bytes:
        """Output of ``git <args>`` in this repository, as bytes."""
        return _run_git(self.path, args, self.name, config=config, input=input).stdout

    def run(self, *args: str, config: Mapping[str, str] | None = None) -> str:
        """Output of ``git <args>`` in this repository, as text (UTF-8, bad bytes replaced)."""
        return self.run_bytes(*args, config=config).decode("utf-8", "replace")

    def _status(self, *args: str, ok_codes: Iterable[int]) -> subprocess.CompletedProcess[bytes]:
        return _run_git(self.path, args, self.name, ok_codes=ok_codes)

    # -- queries ---------------------------------------------------------------------------

    def rev_parse(self, rev: str) -> str:
        """The full sha of the commit ``rev`` names (tags are peeled to their commit)."""
        if rev.startswith("-"):
            raise GitError(f"{self.name}: {rev!r} is not a revision")
        proc = self._status("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                            ok_codes=(0, 1, 128))
        if proc.returncode != 0:
            raise GitError(f"{self.name}: no commit {rev!r} in this repository (is the clone "
                           "up to date?)")
        return proc.stdout.decode().strip()

    def has_commit(self, rev: str) -> bool:
        try:
            self.rev_parse(rev)
        except GitError:
            return False
        return True

    def is_ancestor(self, a: str, b: str) -> bool:
        """Whether commit ``a`` is reachable from commit ``b`` (a commit is its own ancestor)."""
        return self._status("merge-base", "--is-ancestor", a, b, ok_codes=(0, 1)).returncode == 0

    def merge_base(self, *commits: str) -> str | None:
        """The best common ancestor of all ``commits`` (octopus for more than two), or None."""
        if len(commits) < 2:
            raise ValueError("merge_base needs at least two commits")
        octopus = ["--octopus"] if len(commits) > 2 else []
        args = ["merge-base", *octopus, *commits]
        proc = self._status(*args, ok_codes=(0, 1))
        out = proc.stdout.decode().strip()
        return out.splitlines()[0] if proc.returncode == 0 and out else None

    def parents(self, sha: str) -> tuple[str, ...]:
        line = self.run("rev-list", "--parents", "-n", "1", sha, "--").split()
        return tuple(line[1:])

    def commit_info(self, sha: str) -> CommitInfo:
        """Author date, committer date (UTC ISO), subject and body of one commit."""
        out = self.run("log", "-1", f"--date={_UTC_FORMAT}", "--format=%ad%x00%cd%x00%B",
                       sha, "--")
        author, committer, message = out.split("\x00", 2)
        entry = LogEntry(sha, (), author, committer, message.rstrip("\n"))
        return CommitInfo(author, committer, entry.subject, entry.body)

    def log(self, *revs: str, first_parent: bool = False) -> list[LogEntry]:
        """Commits of ``git log <revs>``, newest first, with parents, dates and messages."""
        args = ["log", "-z", f"--date={_UTC_FORMAT}", "--format=%H%x1f%P%x1f%ad%x1f%cd%x1f%B"]
        if first_parent:
            args.append("--first-parent")
        out = self.run(*args, *revs, "--")
        entries = []
        for record in out.split("\x00"):
            if not record.strip():
                continue
            sha, parents, author, committer, message = record.split("\x1f", 4)
            entries.append(LogEntry(sha.strip(), tuple(parents.split()), author, committer,
                                    message.rstrip("\n")))
        return entries

    def first_parent_log(self, ref: str = "HEAD") -> list[LogEntry]:
        """The first-parent history of ``ref``: the merges and commits made on that branch."""
        return self.log(ref, first_parent=True)

    def diff(self, base: str, head: str, config: Mapping[str, str] | None = None) -> bytes:
        """``git diff --binary --full-index -M base head``, independent of user diff settings."""
        settings = {"core.quotePath": "true", "diff.noprefix": "false",
                    "diff.mnemonicPrefix": "false", **(config or {})}
        return self.run_bytes("diff", "--binary", "--full-index", "-M", "--no-color",
                              "--no-ext-diff", "--no-textconv", "--src-prefix=a/",
                              "--dst-prefix=b/", base, head, "--", config=settings)

    def show_file(self, commit: str, path: str) -> bytes | None:
        """The content of ``path`` at ``commit``, or None when it is not a file there."""
        listing = self.run_bytes("ls-tree", "-z", commit, "--", path)
        for entry in listing.split(b"\x00"):
            if not entry:
                continue
            meta, _, name = entry.partition(b"\t")
            mode, kind, sha = meta.split()
            if kind == b"blob" and name.decode("utf-8", "surrogateescape") == path:
                return self.run_bytes("cat-file", "blob", sha.decode())
        return None

    def gitlink(self, commit: str, path: str) -> str | None:
        """The commit a submodule at ``path`` is pinned to at ``commit``, or None when
        ``path`` is not a submodule there (absent, or a plain folder)."""
        listing = self.run_bytes("ls-tree", "-z", commit, "--", path)
        for entry in listing.split(b"\x00"):
            meta, _, name = entry.partition(b"\t")
            if meta.startswith(b"160000 commit ") and name.decode("utf-8", "surrogateescape") == path:
                return meta.split()[2].decode()
        return None

    def tags_merged_into(self, commit: str) -> dict[str, str]:
        """Tags whose commit is an ancestor of ``commit``: tag name -> commit sha."""
        out = self.run("for-each-ref", "--merged", commit,
                       "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)",
                       "refs/tags")
        tags: dict[str, str] = {}
        for line in out.splitlines():
            name, sha, peeled = line.split("\x00")
            tags[name] = peeled or sha
        return tags

    def archive(self, commit: str) -> bytes:
        """A tar of the tree at ``commit`` (what a container gets as /testbed)."""
        return self.run_bytes("archive", "--format=tar", commit)

    def create_bundle(self, dest: str | Path, tip: str, exclude: Sequence[str] = (),
                      tags: Mapping[str, str] | None = None) -> Path:
        """Write a bundle of the objects reachable from ``tip`` minus those of ``exclude``.

        The bundle names ``tip`` as ``refs/swegc/tip`` and each of ``tags`` as
        ``refs/tags/<name>``. The refs are created in a throwaway repository that borrows
        this one's objects (alternates), so the repository itself is never changed, which
        also makes this safe on a shared bare clone and under concurrent callers.
        """
        dest = Path(dest)
        tip_sha = self.rev_parse(tip)
        excluded = [self.rev_parse(c) for c in exclude]
        tag_shas = {name: self.rev_parse(sha) for name, sha in (tags or {}).items()}
        objects = Path(self.run("rev-parse", "--path-format=absolute", "--git-common-dir")
                       .strip()) / "objects"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="swegc-bundle-") as tmp:
            scratch = Path(tmp) / "repo.git"
            _run_git(None, ["init", "--quiet", "--bare", "--template=", str(scratch)], self.name)
            (scratch / "objects" / "info").mkdir(parents=True, exist_ok=True)
            (scratch / "objects" / "info" / "alternates").write_text(f"{objects}\n")
            helper = GitRepo(scratch, name=self.name)
            helper.run("update-ref", BUNDLE_TIP_REF, tip_sha)
            for name, sha in tag_shas.items():
                helper.run("check-ref-format", f"refs/tags/{name}")
                helper.run("update-ref", f"refs/tags/{name}", sha)
            tmp_dest = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
            refs = [BUNDLE_TIP_REF, *(f"refs/tags/{n}" for n in sorted(tag_shas))]
            try:
                helper.run("bundle", "create", "--quiet", str(tmp_dest.resolve()), *refs,
                           *(f"^{sha}" for sha in excluded), config={"pack.threads": "1"})
                os.replace(tmp_dest, dest)
            finally:
                tmp_dest.unlink(missing_ok=True)
        return dest
