"""The Hub stand-in's repositories: files, commits, branches and tags, kept in memory or on disk.

A repository is a git-like history: each commit is a full snapshot (path -> file) with a parent,
and branches and tags name commits. Files carry the identifiers the Hub reports: the git blob id
of what git stores (the content, or the LFS pointer for LFS files) and the content's sha256.
With a ``root`` folder every change is written through (``state.json`` plus content-addressed
``blobs/``), so the stand-in run as a process keeps what was pushed to it across restarts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LFS_SUFFIXES = (".parquet", ".arrow", ".gz", ".zst", ".bin", ".safetensors", ".pt", ".pth", ".h5",
                ".onnx", ".msgpack", ".npy", ".npz", ".pkl", ".tar", ".zip")
LFS_MIN_SIZE = 10 * 2**20  # the Hub stores any file this large through LFS
REPO_TYPES = ("model", "dataset")
_CARD = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)
GITATTRIBUTES = "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES)


def is_lfs(path: str, size: int, suffixes: tuple[str, ...]) -> bool:
    """Whether the Hub would keep this file in LFS: by its suffix, or by its size."""
    return path.endswith(suffixes) or size >= LFS_MIN_SIZE


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class HubFile:
    """A file of a revision, with the identifiers the Hub reports for it."""

    path: str
    data: bytes
    oid: str  # git blob id of what git stores: the content, or the LFS pointer
    sha256: str
    lfs: bool

    @classmethod
    def make(cls, path: str, data: bytes, lfs: bool) -> HubFile:
        sha256 = hashlib.sha256(data).hexdigest()
        file = cls(path, data, "", sha256, lfs)
        return cls(path, data, git_blob_id(file.pointer if lfs else data), sha256, lfs)

    @property
    def pointer(self) -> bytes:
        return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                f"size {len(self.data)}\n").encode()

    def entry(self) -> dict[str, Any]:
        """The file as the tree and paths-info endpoints list it."""
        entry: dict[str, Any] = {"type": "file", "oid": self.oid, "size": len(self.data), "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": len(self.pointer)}
        return entry


@dataclass(frozen=True)
class Commit:
    """One revision: a full snapshot of the repository's files."""

    sha: str
    parent: str | None
    title: str
    message: str
    date: str
    files: dict[str, HubFile]
    author: str = "swegc"

    @property
    def folders(self) -> list[str]:
        return sorted({"/".join(p.split("/")[:i]) for p in self.files for i in range(1, p.count("/") + 1)})

    def card_data(self) -> dict[str, Any] | None:
        readme = self.files.get("README.md")
        match = _CARD.match(readme.data.decode("utf-8", "replace")) if readme else None
        loaded = yaml.safe_load(match.group(1)) if match else None
        return loaded if isinstance(loaded, dict) else None

    def folder_entry(self, path: str) -> dict[str, Any]:
        oid = hashlib.sha1(("tree " + path + "".join(f.oid for p, f in self.files.items()
                                                     if p.startswith(path + "/"))).encode())
        return {"type": "directory", "oid": oid.hexdigest(), "size": 0, "path": path}

    def entry(self, path: str) -> dict[str, Any] | None:
        if path in self.files:
            return self.files[path].entry()
        return self.folder_entry(path) if path in self.folders else None

    def tree(self, path: str, recursive: bool) -> list[dict[str, Any]] | None:
        """Entries under ``path`` (folders before files at each level, as the Hub sorts them)."""
        folders = self.folders
        if path and path not in folders:
            return None
        prefix = path + "/" if path else ""
        names = [p for p in [*folders, *self.files] if p.startswith(prefix)]
        if not recursive:
            names = [p for p in names if "/" not in p[len(prefix):]]
        listed = [self.folder_entry(p) for p in names if p in folders]
        return listed + [self.files[p].entry() for p in names if p in self.files]


def commit_sha(parent: str | None, title: str, files: dict[str, HubFile], salt: str = "") -> str:
    listing = "".join(f"{f.oid} {f.path}\n" for f in sorted(files.values(), key=lambda f: f.path))
    return hashlib.sha1(f"{parent}\n{title}\n{salt}\n{listing}".encode()).hexdigest()


@dataclass
class HubRepo:
    """A repository: its commits, branches and tags. ``sha``/``files`` describe ``main``."""

    repo_id: str
    repo_type: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def head(self) -> Commit:
        return self.commits[self.branches["main"]]

    @property
    def sha(self) -> str:
        return self.head.sha

    @property
    def files(self) -> dict[str, HubFile]:
        return self.head.files

    def resolve(self, revision: str) -> Commit | None:
        """The commit a branch, a tag or a full commit sha names; None if none does."""
        for names in (self.branches, self.tags):
            if revision in names:
                return self.commits[names[revision]]
        return self.commits.get(revision)

    def add_commit(self, branch: str, title: str, message: str, files: dict[str, HubFile],
                   date: str) -> Commit:
        parent = self.branches.get(branch)
        sha = commit_sha(parent, title, files, salt=f"{branch}:{len(self.commits)}")
        commit = Commit(sha, parent, title, message, date, dict(files))
        self.commits[sha] = commit
        self.branches[branch] = sha
        return commit

    def history(self, revision: str) -> list[Commit]:
        """Commits reachable from ``revision``, newest first."""
        out: list[Commit] = []
        commit = self.resolve(revision)
        while commit is not None:
            out.append(commit)
            commit = self.commits.get(commit.parent) if commit.parent else None
        return out

    @property
    def url_prefix(self) -> str:
        return "" if self.repo_type == "model" else f"{self.repo_type}s/"


def repo_from_folder(repo_id: str, folder: Path, *, repo_type: str = "dataset", private: bool,
                     lfs_suffixes: tuple[str, ...]) -> HubRepo:
    """A repository published from a local folder as one commit (its sha stable for the content)."""
    files: dict[str, HubFile] = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith(".git/") or "/.git/" in relative:
            continue
        data = path.read_bytes()
        files[relative] = HubFile.make(relative, data, is_lfs(relative, len(data), lfs_suffixes))
    listing = "".join(f"{f.oid} {f.path}\n" for f in files.values())
    sha = hashlib.sha1(f"{repo_id}\n{listing}".encode()).hexdigest()
    commit = Commit(sha, None, "Publish from folder", "", "2024-01-01T00:00:00.000Z", files)
    return HubRepo(repo_id, repo_type, private, {sha: commit}, {"main": sha}, {})


class RepoStore:
    """Every repository of the stand-in, by (type, id), and the LFS objects uploaded to it.

    ``root``: when given, state is loaded from and written through to that folder.
    """

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else None
        self.repos: dict[tuple[str, str], HubRepo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        if self.root is not None:
            self._load()

    def get(self, repo_type: str, repo_id: str) -> HubRepo | None:
        return self.repos.get((repo_type, repo_id))

    def put(self, repo: HubRepo) -> None:
        self.repos[(repo.repo_type, repo.repo_id)] = repo

    def lfs_object(self, sha256: str) -> bytes | None:
        if sha256 in self.lfs_objects:
            return self.lfs_objects[sha256]
        for repo in self.repos.values():
            for commit in repo.commits.values():
                for file in commit.files.values():
                    if file.lfs and file.sha256 == sha256:
                        return file.data
        return None

    # -- persistence ----------------------------------------------------------------------------

    def save(self) -> None:
        if self.root is None:
            return
        blobs = self.root / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {"schema_version": 1, "repos": [], "lfs_objects": sorted(self.lfs_objects)}
        for data in self.lfs_objects.values():
            self._blob(blobs, data)
        for repo in self.repos.values():
            commits = []
            for commit in repo.commits.values():
                files = {}
                for path, file in commit.files.items():
                    self._blob(blobs, file.data)
                    files[path] = {"sha256": file.sha256, "lfs": file.lfs}
                commits.append({"sha": commit.sha, "parent": commit.parent, "title": commit.title,
                                "message": commit.message, "date": commit.date, "files": files})
            state["repos"].append({"id": repo.repo_id, "type": repo.repo_type, "private": repo.private,
                                   "branches": repo.branches, "tags": repo.tags, "commits": commits})
        tmp = self.root / f".state.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.root / "state.json")

    @staticmethod
    def _blob(blobs: Path, data: bytes) -> None:
        path = blobs / hashlib.sha256(data).hexdigest()
        if not path.exists():
            path.write_bytes(data)

    def _load(self) -> None:
        assert self.root is not None
        path = self.root / "state.json"
        if not path.is_file():
            return
        state = json.loads(path.read_text(encoding="utf-8"))
        blobs = self.root / "blobs"
        for sha256 in state.get("lfs_objects", []):
            self.lfs_objects[sha256] = (blobs / sha256).read_bytes()
        for item in state["repos"]:
            repo = HubRepo(item["id"], item["type"], item["private"], {}, dict(item["branches"]),
                           dict(item["tags"]))
            for c in item["commits"]:
                files = {p: HubFile.make(p, (blobs / f["sha256"]).read_bytes(), f["lfs"])
                         for p, f in c["files"].items()}
                repo.commits[c["sha"]] = Commit(c["sha"], c["parent"], c["title"], c["message"],
                                                c["date"], files)
            self.put(repo)
