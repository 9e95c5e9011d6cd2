"""A local npm registry, served where build containers reach it (the Docker bridge's gateway).

It serves packuments (with publish times, for ``npm install --before``) and tarballs of small
packages the tests make, plus real Node and npm releases: those come from the build's package
cache, where ``node_setup.py`` keeps them, and are fetched once from the public registry when
the cache lacks them (the only network a run of these tests may use).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import tarfile
import urllib.request
from dataclasses import dataclass, field

from index_fixtures import QuietHandler, serve_on_bridge
from swegc.git import cache_root

PUBLIC = "https://registry.npmjs.org"


@dataclass
class NpmRelease:
    name: str
    version: str
    published: str  # ISO datetime
    engines: dict[str, str] | None = None
    tarball: bytes | None = None  # made from name and version when None
    fetchable: bool = True  # False: listed in the packument but never served

    def make_tarball(self) -> bytes:
        """A real package: package.json and an index.js that exports the version."""
        files = {"package/package.json": json.dumps({"name": self.name, "version": self.version,
                                                     "main": "index.js"}),
                 "package/index.js": f"module.exports = {json.dumps(self.version)};\n"}
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as archive:
            for path, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(path)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                archive.addfile(info, io.BytesIO(data))
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            gz.write(raw.getvalue())
        return out.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def real_release(name: str, version: str) -> NpmRelease:
    """A release of the public registry (Node, npm), from the build cache or fetched once."""
    cache = cache_root() / "packages" / "swegc-tools" / "node"
    path = cache / f"{name}-{version}.tgz"
    if not path.exists():
        with urllib.request.urlopen(f"{PUBLIC}/{name}") as response:
            meta = json.loads(response.read())["versions"][version]
        with urllib.request.urlopen(meta["dist"]["tarball"]) as response:
            data = response.read()
        if integrity(data) != meta["dist"]["integrity"]:
            raise RuntimeError(f"{name}@{version} does not match the registry's checksum")
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    data = path.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.extractfile("package/package.json")
        engines = json.loads(member.read()).get("engines") if member else None
    return NpmRelease(name, version, "2024-07-01T00:00:00.000Z", engines, data)


@dataclass
class LocalRegistry:
    releases: list[NpmRelease]
    url: str = ""
    served: list[str] = field(default_factory=list)  # paths asked for

    def tarballs(self) -> dict[str, NpmRelease]:
        return {f"{r.name}-{r.version}.tgz": r for r in self.releases}

    def packument(self, name: str) -> dict | None:
        mine = [r for r in self.releases if r.name == name]
        if not mine:
            return None
        versions = {}
        for r in mine:
            data = r.tarball if r.tarball is not None else r.make_tarball()
            versions[r.version] = {
                "name": name, "version": r.version, **({"engines": r.engines} if r.engines else {}),
                "dist": {"tarball": f"{self.url}{name}/-/{name}-{r.version}.tgz",
                         "integrity": integrity(data),
                         "shasum": hashlib.sha1(data).hexdigest()}}  # noqa: S324 - npm's field
        newest = max(mine, key=lambda r: r.published)
        times = {r.version: r.published for r in mine}
        return {"name": name, "dist-tags": {"latest": newest.version}, "versions": versions,
                "time": {"created": min(times.values()), "modified": max(times.values()), **times}}


def serve_registry(releases: list[NpmRelease]) -> tuple[LocalRegistry, http.server.HTTPServer]:
    registry = LocalRegistry(releases)
    for release in releases:
        if release.tarball is None:
            release.tarball = release.make_tarball()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = urllib.request.unquote(self.path.split("?")[0])
            registry.served.append(path)
            parts = [p for p in path.split("/") if p]
            if len(parts) == 3 and parts[1] == "-":
                release = registry.tarballs().get(parts[2])
                if release is not None and release.fetchable and release.name == parts[0]:
                    return self._send(release.tarball or b"", "application/octet-stream")
            elif len(parts) == 1:
                doc = registry.packument(parts[0])
                if doc is not None:
                    return self._send(json.dumps(doc).encode(), "application/json")
            self.send_error(404)

    server, url = serve_on_bridge(Handler)
    registry.url = f"{url}/"
    return registry, server
