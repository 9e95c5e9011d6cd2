"""A local stand-in for the Hugging Face Hub: the calls behind ``load_dataset``, ``from_pretrained``
and ``HfApi`` uploads (``create_repo``, ``create_commit``/``upload_folder``, tags and branches).

The Hub cannot be reached from test machines, and swegc's ``hub:`` instance source and ``swegc
publish`` must still be exercised through the real clients (``datasets``, ``huggingface_hub``,
``transformers``), so this speaks the Hub's own HTTP protocol, as huggingface_hub's source shows
it. Point a client at it with ``HF_ENDPOINT`` (``client_env()`` gives the whole environment, with
a private cache and Xet disabled). Repositories (``dataset`` or ``model``) have a history of
commits, branches and tags (see ``hub_repos``; the write endpoints live in ``hub_writes``); ``publish()`` seeds one from a local folder in Hub
layout as a single commit whose sha is derived from the folder's content. It also runs as a
process, so that a user can try publishing offline::

    python -m swegc.testing.hub_standin --port 8990 --root ~/.cache/swegc-hub [--token hf_...]
    HF_ENDPOINT=http://127.0.0.1:8990 HF_HUB_DISABLE_XET=1 HF_TOKEN=hf_... swegc publish ...

Endpoints served (``{type}`` is ``models`` or ``datasets``, ``{repo}`` is ``org/name``, ``{rev}``
a branch, a tag or a commit sha, quoted; model repositories have no ``datasets/`` URL prefix):

- ``GET /api/{type}/{repo}`` and ``GET /api/{type}/{repo}/revision/{rev}``: repository info
  (``id``, ``sha``, ``private``, ``cardData`` from the README, ``siblings``; sizes, blob ids and
  ``lfs`` with ``?blobs=true``);
- ``GET /api/{type}/{repo}/tree/{rev}[/{path}]?recursive=&expand=``: the tree listing, paged
  like the Hub (``cursor`` query and a ``Link: <...>; rel="next"`` header; ``page_size``);
- ``POST /api/{type}/{repo}/paths-info/{rev}`` (form ``paths``, ``expand``): entries for the
  paths that exist, missing ones left out as on the Hub;
- ``HEAD``/``GET [/datasets]/{repo}/resolve/{rev}/{path}``: a regular file answers 200 with
  ``ETag`` (its git blob id), ``X-Repo-Commit``, ``Content-Length`` and byte ``Range`` support;
  an LFS file (``lfs_suffixes``: parquet, safetensors..., or 10 MiB and more) answers 302 with
  ``X-Linked-Etag`` (sha256), ``X-Linked-Size``, ``X-Repo-Commit`` and a ``Location`` on a
  second port that plays the CDN (another origin, so huggingface_hub reads the metadata from the
  redirect, as with the Hub);
- ``HEAD``/``GET {cdn}/lfs/{sha256}``: the LFS object's bytes (with ``Range``);
- ``GET /api/{type}/{repo}/refs``: branches and tags; ``GET /api/{type}/{repo}/commits/{rev}``:
  the history, newest first, paged like the tree;
- writes, which need ``Authorization: Bearer <token>`` (401 without; with ``token`` set, only
  that token is accepted): ``POST /api/repos/create`` (``{name, organization, type,
  visibility|private}``; 409 when it exists; a new repository gets an initial commit with a
  ``.gitattributes``, as on the Hub); ``POST /api/{type}/{repo}/preupload/{rev}`` (upload mode
  per file, ``lfs`` or ``regular``, and the remote ``oid`` so that unchanged files are skipped);
  ``POST [/datasets]/{repo}.git/info/lfs/objects/batch`` (git-lfs batch API: an ``upload``
  action on the CDN port and a ``verify`` action for each object not stored yet, none for those
  already there); ``PUT {cdn}/upload/{sha256}`` (the bytes, checked against the sha256 and size);
  ``POST .../lfs/objects/verify``; ``POST /api/{type}/{repo}/commit/{rev}`` (NDJSON: a
  ``header`` line, then ``file`` (base64), ``lfsFile``, ``deletedFile``, ``deletedFolder``;
  ``parentCommit`` checked); ``POST /api/{type}/{repo}/tag/{rev}`` (``{tag, message}``) and
  ``POST /api/{type}/{repo}/branch/{branch}`` (``{startingPoint}``), 409 when the name is taken;
  ``DELETE`` of a tag or branch;
- ``POST /api/validate-yaml`` (``{content, repoType}``): 400 with ``errors`` when the card's
  front matter is not a YAML mapping.

Errors carry the Hub's headers, which huggingface_hub turns into its typed exceptions: a missing
or private (no valid ``Authorization: Bearer``) repository is 401 without a token and 404 with
one, with ``X-Error-Code: RepoNotFound``; an unknown revision is 404 ``RevisionNotFound``; a
missing file or folder is 404 ``EntryNotFound``. Anything else is a 404 without an error code,
and is recorded like every request (``requests``, without the ``Authorization`` header's value)
so that tests can see what clients asked for.

``datasets`` also asks ``datasets-server.<endpoint host>`` for exported infos; that host does not
resolve for ``127.0.0.1``, which datasets treats as "no export", as it does on a private Hub.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, quote, unquote, urlencode

from swegc.testing.hub_http import Answer, Request, error, ranged, read_body
from swegc.testing.hub_repos import LFS_SUFFIXES, Commit, HubFile, HubRepo, RepoStore, repo_from_folder
from swegc.testing.hub_writes import NAME, HubWrites

__all__ = ["HubStandin", "RecordedRequest", "HubFile", "HubRepo", "LFS_SUFFIXES"]

_API = re.compile(rf"^/api/(?P<type>models|datasets)/(?P<repo>{NAME}/{NAME})"
                  r"(?:/(?P<action>revision|tree|paths-info|preupload|commit|commits|refs|tag|branch)"
                  r"(?:/(?P<rest>.*))?)?$")
_RESOLVE = re.compile(rf"^/(?P<prefix>datasets/)?(?P<repo>{NAME}/{NAME})/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_LFS_API = re.compile(rf"^/(?P<prefix>datasets/)?(?P<repo>{NAME}/{NAME})\.git/info/lfs/objects/"
                      r"(?P<op>batch|verify)$")
_LFS = re.compile(r"^/lfs/(?P<sha256>[0-9a-f]{64})$")
_UPLOAD = re.compile(r"^/upload/(?P<sha256>[0-9a-f]{64})$")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in saw it; ``server`` is ``hub`` or ``cdn``."""

    method: str
    path: str  # unquoted path, without the query
    query: str
    status: int
    server: str
    authorized: bool
    bytes_in: int = 0  # size of the request body


class HubStandin(HubWrites):
    """``with HubStandin({"acme/calc": folder}) as hub: run(..., env=hub.client_env(tmp))``.

    ``datasets`` (and ``models``) seed repositories from local folders. ``private``
    repositories answer only requests carrying a valid ``Authorization: Bearer <token>``; with
    ``token`` None, any bearer token is valid (writes still need one). ``page_size`` is how many
    entries one page of a tree or commit listing holds (the Hub uses 1000; tests may lower it).
    ``root``: a folder that keeps every repository across restarts. ``port``: the Hub's port (0:
    any free one); the CDN takes any free port.
    """

    def __init__(self, datasets: Mapping[str, Path | str] | None = None, *, private: Iterable[str] = (),
                 token: str | None = None, page_size: int = 1000,
                 lfs_suffixes: Iterable[str] = LFS_SUFFIXES, models: Mapping[str, Path | str] | None = None,
                 root: Path | str | None = None, port: int = 0):
        self.token = token
        self.page_size = page_size
        self.lfs_suffixes = tuple(lfs_suffixes)
        self.port = port
        self.store = RepoStore(Path(root) if root is not None else None)
        private_ids = set(private)
        for repo_id, folder in (datasets or {}).items():
            self.publish(repo_id, Path(folder), private=repo_id in private_ids)
        for repo_id, folder in (models or {}).items():
            self.publish(repo_id, Path(folder), private=repo_id in private_ids, repo_type="model")
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._pending: dict[str, int] = {}  # sha256 -> size of LFS uploads the batch API allowed
        self._servers: dict[str, ThreadingHTTPServer] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def repos(self) -> dict[str, HubRepo]:
        """Dataset repositories by id (model repositories: ``repo("id", "model")``)."""
        return {rid: repo for (rtype, rid), repo in self.store.repos.items() if rtype == "dataset"}

    def repo(self, repo_id: str, repo_type: str = "dataset") -> HubRepo | None:
        return self.store.get(repo_type, repo_id)

    def publish(self, repo_id: str, folder: Path, *, private: bool = False, repo_type: str = "dataset") -> str:
        """(Re)publish ``folder`` as ``repo_id``, replacing its history; returns the new commit sha."""
        repo = repo_from_folder(repo_id, folder, repo_type=repo_type, private=private,
                                lfs_suffixes=self.lfs_suffixes)
        self.store.put(repo)
        self.store.save()
        return repo.sha

    def start(self) -> Self:
        standin = self
        for server_name, port in (("hub", self.port), ("cdn", 0)):
            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                name = server_name

                def do_GET(self) -> None:
                    standin._handle(self, "GET", self.name)

                def do_HEAD(self) -> None:
                    standin._handle(self, "HEAD", self.name)

                def do_POST(self) -> None:
                    standin._handle(self, "POST", self.name)

                def do_PUT(self) -> None:
                    standin._handle(self, "PUT", self.name)

                def do_DELETE(self) -> None:
                    standin._handle(self, "DELETE", self.name)

                def log_message(self, format: str, *args: Any) -> None:
                    pass

            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
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
        for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                     "TRANSFORMERS_OFFLINE"):
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
        body = read_body(handler)
        auth = handler.headers.get("Authorization") or ""
        bearer = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        authorized = bool(bearer) and (self.token is None or bearer == self.token)
        request = Request(method, raw_path, parse_qs(raw_query), body, authorized, bool(auth),
                           handler.headers.get("Range"))
        try:
            if server_name == "cdn":
                answer = self._cdn(request)
            else:
                with self._lock:
                    answer = self._route(request)
        except Answer as error:
            answer = error
        with self._lock:
            self.requests.append(RecordedRequest(method, unquote(raw_path), raw_query, answer.status,
                                                 server_name, authorized, len(body)))
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

    def _route(self, req: Request) -> Answer:
        path = req.raw_path
        if path == "/api/repos/create" and req.method == "POST":
            return self._create_repo(req)
        if path == "/api/validate-yaml" and req.method == "POST":
            return self._validate_yaml(req)
        api = _API.match(path)
        if api:
            repo_type = api["type"][:-1]
            repo = self._repo(repo_type, unquote(api["repo"]), req)
            return self._api(repo, api["action"], api["rest"] or "", req)
        lfs = _LFS_API.match(path)
        if lfs and req.method == "POST":
            repo = self._repo("dataset" if lfs["prefix"] else "model", unquote(lfs["repo"]), req)
            self._require_writer(req)
            return self._lfs_batch(repo, req) if lfs["op"] == "batch" else self._lfs_verify(req)
        resolve = _RESOLVE.match(path)
        if resolve and req.method in ("GET", "HEAD"):
            repo = self._repo("dataset" if resolve["prefix"] else "model", unquote(resolve["repo"]), req)
            commit = self._revision(repo, unquote(resolve["rev"]))
            return self._resolve(commit, unquote(resolve["path"]), req.range_header)
        raise Answer(404, {"error": f"not served by the Hub stand-in: {req.method} {unquote(path)}"})

    def _api(self, repo: HubRepo, action: str | None, rest: str, req: Request) -> Answer:
        rev, _, sub = rest.partition("/")
        method = req.method
        if action is None and method == "GET":
            return Answer(200, self._info(repo, repo.head, req.query))
        if action == "revision" and method == "GET":
            return Answer(200, self._info(repo, self._revision(repo, unquote(rest)), req.query))
        if action == "tree" and method == "GET":
            commit = self._revision(repo, unquote(rev))
            return self._tree(commit, req.raw_path, unquote(sub).strip("/"), req.query)
        if action == "paths-info" and method == "POST":
            commit = self._revision(repo, unquote(rev))
            form = parse_qs(req.body.decode())
            entries = [commit.entry(p.strip("/")) for p in form.get("paths", [])]
            return Answer(200, [e for e in entries if e is not None])
        if action == "refs" and method == "GET":
            return Answer(200, self._refs(repo))
        if action == "commits" and method == "GET":
            self._revision(repo, unquote(rev))
            return self._paged(req, [self._commit_item(c) for c in repo.history(unquote(rev))])
        if action == "preupload" and method == "POST":
            self._require_writer(req)
            return self._preupload(repo, unquote(rev), req)
        if action == "commit" and method == "POST":
            self._require_writer(req)
            return self._commit(repo, unquote(rev), req)
        if action in ("tag", "branch") and method in ("POST", "DELETE"):
            self._require_writer(req)
            return self._ref(repo, action, unquote(rest), req)
        raise Answer(404, {"error": f"not served by the Hub stand-in: {method} {unquote(req.raw_path)}"})

    # -- reads ----------------------------------------------------------------------------------

    def _repo(self, repo_type: str, repo_id: str, req: Request) -> HubRepo:
        repo = self.store.get(repo_type, repo_id)
        if repo is None or (repo.private and not req.authorized):
            # The Hub does not tell a private repository from a missing one.
            raise Answer(404 if req.has_auth else 401, {"error": "Repository not found"},
                          {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        return repo

    @staticmethod
    def _revision(repo: HubRepo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    @staticmethod
    def _info(repo: HubRepo, commit: Commit, query: dict[str, list[str]]) -> dict[str, Any]:
        blobs = query.get("blobs", ["false"])[0].lower() in ("true", "1")
        siblings: list[dict[str, Any]] = []
        for file in commit.files.values():
            sibling: dict[str, Any] = {"rfilename": file.path}
            if blobs:
                sibling |= {"size": len(file.data), "blobId": file.oid}
                if file.lfs:
                    sibling["lfs"] = {"sha256": file.sha256, "size": len(file.data),
                                      "pointerSize": len(file.pointer)}
            siblings.append(sibling)
        info = {"_id": repo.sha[:24], "id": repo.repo_id, "author": repo.repo_id.partition("/")[0],
                "sha": commit.sha, "private": repo.private, "gated": False, "disabled": False,
                "downloads": 0, "likes": 0, "tags": [], "cardData": commit.card_data(),
                "siblings": siblings, "createdAt": "2024-01-01T00:00:00.000Z",
                "lastModified": commit.date,
                "usedStorage": sum(len(f.data) for f in commit.files.values())}
        if repo.repo_type == "model":
            card = commit.card_data() or {}
            info |= {"modelId": repo.repo_id, "library_name": card.get("library_name"),
                     "pipeline_tag": card.get("pipeline_tag")}
        return info

    def _paged(self, req: Request, entries: list[Any]) -> Answer:
        start = int(req.query.get("cursor", ["0"])[0] or 0)
        page = entries[start:start + self.page_size]
        headers: dict[str, str] = {}
        if start + self.page_size < len(entries):
            params = {k: v[0] for k, v in req.query.items() if k != "cursor"}
            params["cursor"] = str(start + self.page_size)
            headers["Link"] = f'<{self.endpoint}{req.raw_path}?{urlencode(params)}>; rel="next"'
        return Answer(200, page, headers)

    def _tree(self, commit: Commit, raw_path: str, path: str, query: dict[str, list[str]]) -> Answer:
        recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
        entries = commit.tree(path, recursive)
        if entries is None:
            raise error(404, f"{path} does not exist on {commit.sha}", "EntryNotFound")
        return self._paged(Request("GET", raw_path, query, b"", False, False, None), entries)

    @staticmethod
    def _refs(repo: HubRepo) -> dict[str, Any]:
        def refs(names: dict[str, str], kind: str) -> list[dict[str, str]]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": sha} for n, sha in sorted(names.items())]

        return {"branches": refs(repo.branches, "heads"), "converts": [], "tags": refs(repo.tags, "tags"),
                "pullRequests": []}

    @staticmethod
    def _commit_item(commit: Commit) -> dict[str, Any]:
        return {"id": commit.sha, "title": commit.title, "message": commit.message,
                "authors": [{"user": commit.author}], "date": commit.date,
                "formatted": {"title": commit.title, "message": commit.message}}

    def _resolve(self, commit: Commit, path: str, range_header: str | None) -> Answer:
        file = commit.files.get(path)
        if file is None:
            raise error(404, "Entry not found", "EntryNotFound", **{"X-Repo-Commit": commit.sha})
        common = {"X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        if file.lfs:
            location = f"{self._url('cdn')}/lfs/{file.sha256}?{urlencode({'filename': quote(path)})}"
            return Answer(302, None, common | {"Location": location, "ETag": f'"{file.oid}"',
                                                "X-Linked-Etag": f'"{file.sha256}"',
                                                "X-Linked-Size": str(len(file.data))})
        return ranged(file.data, range_header, common | {"ETag": f'"{file.oid}"'})

    def _cdn(self, req: Request) -> Answer:
        upload = _UPLOAD.match(req.raw_path)
        if upload and req.method == "PUT":
            return self._lfs_put(upload["sha256"], req.body)
        match = _LFS.match(req.raw_path)
        if match and req.method in ("GET", "HEAD"):
            with self._lock:
                data = self.store.lfs_object(match["sha256"])
            if data is not None:
                return ranged(data, req.range_header, {"ETag": f'"{match["sha256"]}"'})
        raise Answer(404, b"NoSuchKey", {"Content-Type": "text/plain"})


def main(argv: list[str] | None = None) -> None:
    """``python -m swegc.testing.hub_standin --port N --root DIR``: serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m swegc.testing.hub_standin",
                                     description="A local stand-in for the Hugging Face Hub.")
    parser.add_argument("--port", type=int, default=8990, help="port of the Hub API (the CDN takes any free port)")
    parser.add_argument("--root", type=Path, default=None,
                        help="folder that keeps repositories across restarts (default: memory only)")
    parser.add_argument("--token-env", default=None, metavar="VARIABLE",
                        help="accept only the token held by this environment variable (default: any token)")
    parser.add_argument("--dataset", action="append", default=[], metavar="ORG/NAME=FOLDER",
                        help="seed a dataset repository from a folder in Hub layout (repeatable)")
    args = parser.parse_args(argv)
    token = os.environ.get(args.token_env) if args.token_env else None
    if args.token_env and not token:
        parser.error(f"--token-env {args.token_env}: that variable is empty")
    seeds = {}
    for item in args.dataset:
        repo_id, sep, folder = item.partition("=")
        if not sep or not Path(folder).is_dir():
            parser.error(f"--dataset {item!r}: expected ORG/NAME=FOLDER with an existing folder")
        seeds[repo_id] = Path(folder)
    if args.root is not None:
        args.root.mkdir(parents=True, exist_ok=True)
    hub = HubStandin(seeds, token=token, root=args.root, port=args.port).start()
    print(f"Hub stand-in at {hub.endpoint} (storage: {args.root or 'memory'}); use\n"
          f"  export HF_ENDPOINT={hub.endpoint} HF_HUB_DISABLE_XET=1", flush=True)
    stopped = threading.Event()
    # Ctrl-C and SIGTERM both only set the event: no KeyboardInterrupt raised wherever the main
    # thread happens to be. The wait is a little at a time because a signal the kernel hands to
    # one of the server's threads reaches Python's handler only when the main thread next runs.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    # `kill -USR1 PID` prints every thread's stack to stderr: what a stand-in that does not stop
    # is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    while not stopped.wait(0.2):
        pass
    hub.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
