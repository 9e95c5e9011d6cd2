"""A local stand-in for the Hugging Face Hub: the read-only calls behind ``load_dataset("org/name")``.

The Hub cannot be reached from test machines, and swegc's ``hub:`` instance source must still be
exercised through the real clients (``datasets`` and ``huggingface_hub``), so this speaks the
Hub's own HTTP protocol. Point a client at it with ``HF_ENDPOINT`` (``client_env()`` gives the
whole environment, with a private cache and Xet disabled). Each dataset repository is a local
folder in Hub layout (``README.md`` whose YAML front matter has ``configs``, ``data/*.parquet``
or ``*.jsonl``), published at one commit whose sha is derived from the folder's content.

Endpoints served (``{repo}`` is ``org/name``, ``{rev}`` is ``main`` or the commit sha, quoted):

- ``GET /api/datasets/{repo}`` and ``GET /api/datasets/{repo}/revision/{rev}``: dataset info
  (``id``, ``sha``, ``private``, ``cardData`` from the README, ``siblings``; sizes, blob ids and
  ``lfs`` with ``?blobs=true``);
- ``GET /api/datasets/{repo}/tree/{rev}[/{path}]?recursive=&expand=``: the tree listing, paged
  like the Hub (``cursor`` query and a ``Link: <...>; rel="next"`` header; ``page_size``);
- ``POST /api/datasets/{repo}/paths-info/{rev}`` (form ``paths``, ``expand``): entries for the
  paths that exist, missing ones left out as on the Hub;
- ``HEAD``/``GET /datasets/{repo}/resolve/{rev}/{path}``: a regular file answers 200 with
  ``ETag`` (its git blob id), ``X-Repo-Commit``, ``Content-Length`` and byte ``Range`` support;
  an LFS file (``lfs_suffixes``: parquet, arrow...) answers 302 with ``X-Linked-Etag`` (sha256),
  ``X-Linked-Size``, ``X-Repo-Commit`` and a ``Location`` on a second port that plays the CDN
  (another origin, so huggingface_hub reads the metadata from the redirect, as with the Hub);
- ``HEAD``/``GET {cdn}/lfs/{sha256}``: the LFS object's bytes (with ``Range``).

Errors carry the Hub's headers, which huggingface_hub turns into its typed exceptions: a missing
or private (no valid ``Authorization: Bearer``) repository is 401 without a token and 404 with
one, with ``X-Error-Code: RepoNotFound``; an unknown revision is 404 ``RevisionNotFound``; a
missing file or folder is 404 ``EntryNotFound``. Anything else is a 404 without an error code,
and is recorded like every request (``requests``) so that tests can see what clients asked for.
Nothing is written: there are no upload or commit endpoints.

``datasets`` also asks ``datasets-server.<endpoint host>`` for exported infos; that host does not
resolve for ``127.0.0.1``, which datasets treats as "no export", as it does on a private Hub.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, quote, unquote, urlencode

import yaml

LFS_SUFFIXES = (".parquet", ".arrow", ".gz", ".zst", ".bin", ".safetensors")
_API = re.compile(r"^/api/datasets/(?P<repo>[^/]+(?:/[^/]+)?)"
                  r"(?:/(?P<action>revision|tree|paths-info)/(?P<rest>.+))?$")
_RESOLVE = re.compile(r"^/datasets/(?P<repo>[^/]+(?:/[^/]+)?)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_LFS = re.compile(r"^/lfs/(?P<sha256>[0-9a-f]{64})$")
_CARD = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in saw it; ``server`` is ``hub`` or ``cdn``."""

    method: str
    path: str  # unquoted path, without the query
    query: str
    status: int
    server: str
    authorized: bool


@dataclass(frozen=True)
class HubFile:
    """A file of a published revision, with the identifiers the Hub reports for it."""

    path: str
    data: bytes
    oid: str  # git blob id of what git stores: the content, or the LFS pointer
    sha256: str
    lfs: bool

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


class HubRepo:
    """A dataset repository read from a folder once, as one commit (so its sha is stable)."""

    def __init__(self, repo_id: str, folder: Path, *, private: bool, lfs_suffixes: Iterable[str]):
        self.repo_id = repo_id
        self.private = private
        suffixes = tuple(lfs_suffixes)
        self.files: dict[str, HubFile] = {}
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            if relative.startswith(".git/") or "/.git/" in relative:
                continue
            data = path.read_bytes()
            file = HubFile(relative, data, "", hashlib.sha256(data).hexdigest(), relative.endswith(suffixes))
            blob = file.pointer if file.lfs else data
            oid = hashlib.sha1(b"blob %d\0" % len(blob) + blob).hexdigest()
            self.files[relative] = HubFile(relative, data, oid, file.sha256, file.lfs)
        listing = "".join(f"{f.oid} {f.path}\n" for f in self.files.values())
        self.sha = hashlib.sha1(f"{repo_id}\n{listing}".encode()).hexdigest()
        self.folders = sorted({"/".join(p.split("/")[:i]) for p in self.files
                               for i in range(1, p.count("/") + 1)})

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
        if path and path not in self.folders:
            return None
        prefix = path + "/" if path else ""
        names = [p for p in [*self.folders, *self.files] if p.startswith(prefix)]
        if not recursive:
            names = [p for p in names if "/" not in p[len(prefix):]]
        folders = [self.folder_entry(p) for p in names if p in self.folders]
        return folders + [self.files[p].entry() for p in names if p in self.files]


class _Answer(Exception):
    """Raised inside routing to answer at once (used for errors)."""

    def __init__(self, status: int, payload: Any = None, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = dict(headers or {})


class HubStandin:
    """``with HubStandin({"acme/calc": folder}) as hub: run(..., env=hub.client_env(tmp))``.

    ``private`` repositories answer only requests carrying ``Authorization: Bearer <token>``;
    ``page_size`` is how many tree entries one page holds (the Hub uses 1000; tests may lower it).
    """

    def __init__(self, datasets: Mapping[str, Path | str], *, private: Iterable[str] = (),
                 token: str | None = None, page_size: int = 1000,
                 lfs_suffixes: Iterable[str] = LFS_SUFFIXES):
        self.token = token
        self.page_size = page_size
        self.lfs_suffixes = tuple(lfs_suffixes)
        private_ids = set(private)
        self.repos: dict[str, HubRepo] = {}
        for repo_id, folder in datasets.items():
            self.publish(repo_id, Path(folder), private=repo_id in private_ids)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def publish(self, repo_id: str, folder: Path, *, private: bool = False) -> str:
        """(Re)publish ``folder`` as ``repo_id``; returns the new commit sha."""
        repo = HubRepo(repo_id, folder, private=private, lfs_suffixes=self.lfs_suffixes)
        self.repos[repo_id] = repo
        return repo.sha

    def start(self) -> Self:
        standin = self
        for server_name in ("hub", "cdn"):
            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                name = server_name

                def do_GET(self) -> None:
                    standin._handle(self, "GET", self.name)

                def do_HEAD(self) -> None:
                    standin._handle(self, "HEAD", self.name)

                def do_POST(self) -> None:
                    standin._handle(self, "POST", self.name)

                def log_message(self, format: str, *args: Any) -> None:
                    pass

            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers[server_name] = server
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """The value for ``HF_ENDPOINT``."""
        return self._url("hub")

    def client_env(self, home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a client process: this endpoint, a cache under ``home``, no Xet.

        huggingface_hub reads ``HF_ENDPOINT`` once, at import, so clients must start with it set:
        run them as subprocesses with this environment. Telemetry and download-count pings (to
        hosts that cannot be reached) are turned off; nothing else about the clients changes.
        """
        env = dict(os.environ if base is None else base)
        for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            env.pop(name, None)
        env.update({
            "HF_ENDPOINT": self.endpoint, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(home / "hf"),
            "HF_HUB_CACHE": str(home / "hf" / "hub"), "HF_DATASETS_CACHE": str(home / "hf" / "datasets"),
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_UPDATE_DOWNLOAD_COUNTS": "0",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        })
        if self.token:
            env["HF_TOKEN"] = self.token
        return env

    def seen(self, method: str | None = None, *, contains: str = "", server: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, filtered by method, a substring of the path, and server."""
        with self._lock:
            return [r for r in self.requests if (method is None or r.method == method)
                    and contains in r.path and (server is None or r.server == server)]

    def _url(self, server_name: str) -> str:
        assert server_name in self._servers, "start() the stand-in first"
        return f"http://127.0.0.1:{self._servers[server_name].server_address[1]}"

    # -- requests -------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str, server_name: str) -> None:
        raw_path, _, raw_query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        authorized = self.token is not None and handler.headers.get("Authorization") == f"Bearer {self.token}"
        try:
            if server_name == "cdn":
                answer = self._cdn(raw_path, handler.headers.get("Range"))
            else:
                answer = self._route(method, raw_path, parse_qs(raw_query), body, authorized,
                                     handler.headers.get("Range"), "Authorization" in handler.headers)
        except _Answer as error:
            answer = error
        with self._lock:
            self.requests.append(RecordedRequest(method, unquote(raw_path), raw_query, answer.status,
                                                 server_name, authorized))
        payload = answer.payload
        if isinstance(payload, bytes):
            data = payload
        elif payload is None:
            data = b""
        else:
            data = json.dumps(payload).encode()
            answer.headers.setdefault("Content-Type", "application/json; charset=utf-8")
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", answer.headers.get("Content-Length", str(len(data))))
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(data)

    def _route(self, method: str, raw_path: str, query: dict[str, list[str]], body: bytes,
               authorized: bool, range_header: str | None, has_auth: bool) -> _Answer:
        api = _API.match(raw_path)
        if api and method in ("GET", "POST"):
            repo = self._repo(unquote(api["repo"]), authorized, has_auth)
            action, rest = api["action"], api["rest"] or ""
            rev, _, sub = rest.partition("/")
            if action is None and method == "GET":
                return _Answer(200, self._info(repo, query))
            if action == "revision" and method == "GET":
                self._revision(repo, unquote(rest))
                return _Answer(200, self._info(repo, query))
            if action == "tree" and method == "GET":
                self._revision(repo, unquote(rev))
                return self._tree(repo, raw_path, unquote(sub).strip("/"), query)
            if action == "paths-info" and method == "POST":
                self._revision(repo, unquote(rev))
                form = parse_qs(body.decode())
                entries = [repo.entry(p.strip("/")) for p in form.get("paths", [])]
                return _Answer(200, [e for e in entries if e is not None])
        resolve = _RESOLVE.match(raw_path)
        if resolve and method in ("GET", "HEAD"):
            repo = self._repo(unquote(resolve["repo"]), authorized, has_auth)
            self._revision(repo, unquote(resolve["rev"]))
            return self._resolve(repo, unquote(resolve["path"]), range_header)
        raise _Answer(404, {"error": f"not served by the Hub stand-in: {method} {unquote(raw_path)}"})

    def _repo(self, repo_id: str, authorized: bool, has_auth: bool) -> HubRepo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and not authorized):
            # The Hub does not tell a private repository from a missing one.
            raise _Answer(404 if has_auth else 401, {"error": "Repository not found"},
                          {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        return repo

    @staticmethod
    def _revision(repo: HubRepo, revision: str) -> None:
        if revision not in ("main", repo.sha):
            raise _Answer(404, {"error": f"Invalid rev id: {revision}"},
                          {"X-Error-Code": "RevisionNotFound", "X-Error-Message": f"Invalid rev id: {revision}"})

    @staticmethod
    def _info(repo: HubRepo, query: dict[str, list[str]]) -> dict[str, Any]:
        blobs = query.get("blobs", ["false"])[0].lower() in ("true", "1")
        siblings: list[dict[str, Any]] = []
        for file in repo.files.values():
            sibling: dict[str, Any] = {"rfilename": file.path}
            if blobs:
                sibling |= {"size": len(file.data), "blobId": file.oid}
                if file.lfs:
                    sibling["lfs"] = {"sha256": file.sha256, "size": len(file.data),
                                      "pointerSize": len(file.pointer)}
            siblings.append(sibling)
        return {"_id": repo.sha[:24], "id": repo.repo_id, "author": repo.repo_id.partition("/")[0],
                "sha": repo.sha, "private": repo.private, "gated": False, "disabled": False,
                "downloads": 0, "likes": 0, "tags": [], "cardData": repo.card_data(),
                "siblings": siblings, "createdAt": "2024-01-01T00:00:00.000Z",
                "lastModified": "2024-01-01T00:00:00.000Z",
                "usedStorage": sum(len(f.data) for f in repo.files.values())}

    def _tree(self, repo: HubRepo, raw_path: str, path: str, query: dict[str, list[str]]) -> _Answer:
        recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
        entries = repo.tree(path, recursive)
        if entries is None:
            raise _Answer(404, {"error": f"{path} does not exist on main"},
                          {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"})
        start = int(query.get("cursor", ["0"])[0] or 0)
        page = entries[start:start + self.page_size]
        headers: dict[str, str] = {}
        if start + self.page_size < len(entries):
            params = {k: v[0] for k, v in query.items() if k != "cursor"}
            params["cursor"] = str(start + self.page_size)
            headers["Link"] = f'<{self.endpoint}{raw_path}?{urlencode(params)}>; rel="next"'
        return _Answer(200, page, headers)

    def _resolve(self, repo: HubRepo, path: str, range_header: str | None) -> _Answer:
        file = repo.files.get(path)
        if file is None:
            raise _Answer(404, {"error": "Entry not found"},
                          {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                           "X-Repo-Commit": repo.sha})
        common = {"X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes"}
        if file.lfs:
            location = f"{self._url('cdn')}/lfs/{file.sha256}?{urlencode({'filename': quote(path)})}"
            return _Answer(302, None, common | {"Location": location, "ETag": f'"{file.oid}"',
                                                "X-Linked-Etag": f'"{file.sha256}"',
                                                "X-Linked-Size": str(len(file.data))})
        return _ranged(file.data, range_header, common | {"ETag": f'"{file.oid}"'})

    def _cdn(self, raw_path: str, range_header: str | None) -> _Answer:
        match = _LFS.match(raw_path)
        for repo in self.repos.values() if match else ():
            for file in repo.files.values():
                if file.lfs and file.sha256 == match["sha256"]:
                    return _ranged(file.data, range_header, {"ETag": f'"{file.sha256}"'})
        raise _Answer(404, b"NoSuchKey", {"Content-Type": "text/plain"})


def _ranged(data: bytes, range_header: str | None, headers: dict[str, str]) -> _Answer:
    """``data`` whole (200) or the one byte range asked for (206), as the Hub and its CDN answer."""
    headers = headers | {"Content-Type": "application/octet-stream"}
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", (range_header or "").strip())
    if not match or not (match[1] or match[2]):
        return _Answer(200, data, headers)
    size = len(data)
    if match[1]:
        start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
    else:
        start, end = max(size - int(match[2]), 0), size - 1
    if start >= size or start > end:
        return _Answer(416, b"", headers | {"Content-Range": f"bytes */{size}"})
    return _Answer(206, data[start:end + 1], headers | {"Content-Range": f"bytes {start}-{end}/{size}"})

