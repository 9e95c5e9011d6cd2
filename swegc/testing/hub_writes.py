"""The Hub stand-in's write side: repositories, preupload, LFS uploads, commits, tags, branches.

Mixed into ``HubStandin`` (see its module docstring for the endpoints); kept apart so that each
file holds one side of the protocol. Every method here runs under the stand-in's lock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from typing import Any

import yaml

from swegc.testing.hub_http import Answer, Request, error, now
from swegc.testing.hub_repos import GITATTRIBUTES, REPO_TYPES, Commit, HubFile, HubRepo, RepoStore, is_lfs

NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_CARD = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)


class HubWrites:
    """Write endpoints; the host class provides ``store``, ``lfs_suffixes``, ``endpoint``, ``_url``,
    ``_revision``, ``_lock`` and ``_pending``."""

    store: RepoStore
    lfs_suffixes: tuple[str, ...]
    endpoint: str
    _lock: threading.RLock
    _pending: dict[str, int]

    def _url(self, server_name: str) -> str:  # provided by the host class
        raise NotImplementedError

    @staticmethod
    def _revision(repo: HubRepo, revision: str) -> Commit:  # provided by the host class
        raise NotImplementedError

    @staticmethod
    def _require_writer(req: Request) -> None:
        if not req.authorized:
            raise error(401, "Invalid credentials in Authorization header" if req.has_auth
                         else "You must be authenticated to write to the Hub (Authorization: Bearer <token>)")

    def _create_repo(self, req: Request) -> Answer:
        self._require_writer(req)
        body = req.json()
        repo_type = body.get("type") or "model"
        name, organization = body.get("name"), body.get("organization")
        if repo_type not in REPO_TYPES or not isinstance(name, str) or not re.fullmatch(NAME, name) \
                or not isinstance(organization, str) or not re.fullmatch(NAME, organization):
            raise error(400, f"cannot create repo: type {repo_type!r} (model or dataset), "
                              f"organization and name must be given")
        repo_id = f"{organization}/{name}"
        existing = self.store.get(repo_type, repo_id)
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{self.endpoint}/{prefix}{repo_id}"
        if existing is not None:
            return Answer(409, {"error": f"You already created this {repo_type} repo", "url": url},
                           {"X-Error-Message": f"You already created this {repo_type} repo"})
        private = body.get("visibility") == "private" or body.get("private") is True
        repo = HubRepo(repo_id, repo_type, private)
        gitattributes = HubFile.make(".gitattributes", GITATTRIBUTES.encode(), False)
        repo.add_commit("main", "initial commit", "", {".gitattributes": gitattributes}, now())
        self.store.put(repo)
        self.store.save()
        return Answer(200, {"url": url, "name": repo_id, "id": repo.sha[:24]})

    @staticmethod
    def _validate_yaml(req: Request) -> Answer:
        content = str(req.json().get("content") or "")
        match = _CARD.match(content)
        if not match:
            return Answer(200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]})
        try:
            meta = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            return Answer(400, {"errors": [{"message": f"invalid YAML: {exc}"}], "warnings": []},
                           {"X-Error-Message": "Invalid metadata in README.md"})
        if meta is not None and not isinstance(meta, dict):
            return Answer(400, {"errors": [{"message": "metadata must be a YAML mapping"}], "warnings": []},
                           {"X-Error-Message": "Invalid metadata in README.md"})
        return Answer(200, {"errors": [], "warnings": []})

    def _branch(self, repo: HubRepo, revision: str) -> Commit:
        if revision not in repo.branches:
            raise error(404, f"Invalid rev id: {revision} (commits go to a branch)", "RevisionNotFound")
        return repo.commits[repo.branches[revision]]

    def _preupload(self, repo: HubRepo, revision: str, req: Request) -> Answer:
        head = self._branch(repo, revision)
        files = []
        for item in req.json().get("files") or []:
            path, size = str(item["path"]), int(item["size"])
            lfs = size > 0 and is_lfs(path, size, self.lfs_suffixes)
            remote = head.files.get(path)
            oid = None if remote is None else (remote.sha256 if remote.lfs else remote.oid)
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": oid})
        return Answer(200, {"files": files, "commitOid": head.sha})

    def _lfs_batch(self, repo: HubRepo, req: Request) -> Answer:
        body = req.json()
        if body.get("operation") != "upload":
            raise error(400, "only the upload operation is served")
        objects = []
        for item in body.get("objects") or []:
            oid, size = str(item.get("oid")), int(item.get("size") or 0)
            if not re.fullmatch(r"[0-9a-f]{64}", oid):
                objects.append({"oid": oid, "size": size, "error": {"code": 422, "message": "oid must be a sha256"}})
                continue
            entry: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            stored = self.store.lfs_object(oid)
            if stored is None or len(stored) != size:
                self._pending[oid] = size
                prefix = "datasets/" if repo.repo_type == "dataset" else ""
                entry["actions"] = {
                    "upload": {"href": f"{self._url('cdn')}/upload/{oid}", "header": {}},
                    "verify": {"href": f"{self.endpoint}/{prefix}{repo.repo_id}.git/info/lfs/objects/verify",
                               "header": {}},
                }
            objects.append(entry)
        return Answer(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                       {"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_put(self, sha256: str, body: bytes) -> Answer:
        with self._lock:
            size = self._pending.get(sha256)
            if size is None:
                raise Answer(403, b"AccessDenied: no upload was granted for this object",
                              {"Content-Type": "text/plain"})
            if len(body) != size or hashlib.sha256(body).hexdigest() != sha256:
                raise Answer(400, b"BadDigest: the body does not match the object's sha256 and size",
                              {"Content-Type": "text/plain"})
            self.store.lfs_objects[sha256] = body
            del self._pending[sha256]
            self.store.save()
        return Answer(200, b"", {"ETag": f'"{sha256}"'})

    def _lfs_verify(self, req: Request) -> Answer:
        body = req.json()
        data = self.store.lfs_object(str(body.get("oid")))
        if data is None or len(data) != int(body.get("size") or -1):
            raise error(404, f"LFS object {body.get('oid')} was not uploaded")
        return Answer(200, {"success": True})

    def _commit(self, repo: HubRepo, revision: str, req: Request) -> Answer:
        head = self._branch(repo, revision)
        lines = [json.loads(line) for line in req.body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise error(400, "a commit starts with a header line")
        header = lines[0]["value"]
        parent = header.get("parentCommit")
        if parent and parent != head.sha:
            raise error(412, f"A commit has happened since {parent}: the branch is at {head.sha}")
        files = dict(head.files)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value") or {}
            path = str(value.get("path", "")).strip("/")
            if key == "file":
                data = base64.b64decode(value["content"]) if value.get("encoding") == "base64" \
                    else str(value["content"]).encode()
                files[path] = HubFile.make(path, data, False)
            elif key == "lfsFile":
                data = self.store.lfs_object(str(value.get("oid")))
                if data is None:
                    raise error(422, f"LFS file {path} (oid {value.get('oid')}) was never uploaded")
                files[path] = HubFile.make(path, data, True)
            elif key == "deletedFile":
                if path not in files:
                    raise error(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del files[path]
            elif key == "deletedFolder":
                gone = [p for p in files if p.startswith(path + "/")]
                if not gone:
                    raise error(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in gone:
                    del files[p]
            else:
                raise error(400, f"unknown commit operation {key!r}")
        title = str(header.get("summary") or "").strip()
        if not title:
            raise error(400, "the commit has no summary")
        commit = repo.add_commit(revision, title, str(header.get("description") or ""), files, now())
        self.store.save()
        return Answer(200, {"success": True, "commitOid": commit.sha, "pullRequestUrl": None,
                             "commitUrl": f"{self.endpoint}/{repo.url_prefix}{repo.repo_id}/commit/{commit.sha}"})

    def _ref(self, repo: HubRepo, kind: str, name_or_rev: str, req: Request) -> Answer:
        names = repo.tags if kind == "tag" else repo.branches
        if req.method == "DELETE":
            if name_or_rev not in names or (kind == "branch" and name_or_rev == "main"):
                raise error(404, f"Invalid rev id: {name_or_rev}", "RevisionNotFound")
            del names[name_or_rev]
            self.store.save()
            return Answer(200, {})
        body = req.json()
        if kind == "tag":  # POST .../tag/{revision} {"tag": name}
            target, name = self._revision(repo, name_or_rev), str(body.get("tag") or "")
        else:  # POST .../branch/{name} {"startingPoint": revision}
            target, name = self._revision(repo, str(body.get("startingPoint") or "main")), name_or_rev
        if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", name):
            raise error(400, f"invalid {kind} name {name!r}")
        if name in repo.tags or name in repo.branches:
            raise error(409, f"Reference {name} already exists")
        names[name] = target.sha
        self.store.save()
        return Answer(200, {})
