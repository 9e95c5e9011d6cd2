"""A local package index (PEP 503 HTML and PEP 691 JSON, with upload times and yanked files),
served over HTTP where build containers reach it: the Docker bridge's gateway address. With
``upload_times=False`` it is an index like PyTorch's, which gives none (PEP 700)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import subprocess
import threading
import urllib.parse
import zipfile
from dataclasses import dataclass, field


@dataclass
class Release:
    name: str
    version: str
    uploaded: str  # ISO datetime
    yanked: str | None = None  # the reason
    requires: tuple[str, ...] = ()
    # PEP 658: the index serves the wheel's METADATA apart (PyPI does not for wheels uploaded
    # before 2023: readers then take it from the wheel, by range requests)
    metadata_file: bool = True
    requires_python: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}-py3-none-any.whl"

    def metadata(self) -> str:
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        if self.requires_python:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines += [f"Requires-Dist: {r}" for r in self.requires]
        return "\n".join(lines) + "\n"

    def wheel(self) -> bytes:
        """A real, installable wheel holding one module named after the package."""
        module = self.name.replace("-", "_")
        info = f"{module}-{self.version}.dist-info"
        files = {f"{module}.py": f"VERSION = {self.version!r}\n",
                 f"{info}/METADATA": self.metadata(),
                 f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                  "Tag: py3-none-any\n"}
        record = []
        for path, text in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
        files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path, text in files.items():
                archive.writestr(path, text)
        return buffer.getvalue()


@dataclass
class LocalIndex:
    releases: list[Release]
    url: str = ""
    blobs: dict[str, bytes] = field(default_factory=dict)

    def project(self, name: str) -> list[Release]:
        return [r for r in self.releases if r.name == name]


def bridge_gateway() -> str:
    out = subprocess.run(["docker", "network", "inspect", "bridge", "--format",
                          "{{(index .IPAM.Config 0).Gateway}}"], capture_output=True, text=True)
    return out.stdout.strip() or "172.17.0.1"


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers whole bodies (the fixtures' servers)."""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_range(self, body: bytes, kind: str) -> None:
        """``body``, or the part a ``Range: bytes=A-B`` / ``bytes=-N`` header asks for (206)."""
        wanted = (self.headers.get("Range") or "").removeprefix("bytes=")
        if not wanted:
            return self._send(body, kind)
        first, _, last = wanted.partition("-")
        start = len(body) - int(last) if not first else int(first)
        end = len(body) - 1 if not first or not last else int(last)
        start = max(0, start)
        part = body[start:end + 1]
        self.send_response(206)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Range", f"bytes {start}-{start + len(part) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        self.wfile.write(part)


def serve_on_bridge(handler: type[http.server.BaseHTTPRequestHandler],
                    ) -> tuple[http.server.HTTPServer, str]:
    """Serves ``handler`` on Docker's bridge gateway (reachable from containers) in a thread;
    returns the server and its base URL (``http://HOST:PORT``)."""
    server = http.server.ThreadingHTTPServer((bridge_gateway(), 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{server.server_address[0]}:{server.server_address[1]}"


def serve_index(releases: list[Release], upload_times: bool = True, ranges: bool = True,
                ) -> tuple[LocalIndex, http.server.HTTPServer]:
    """Serves ``releases``; with ``ranges=False`` files are always answered whole (a server
    that ignores ``Range``)."""
    index = LocalIndex(releases)
    for release in releases:
        index.blobs[release.filename] = release.wheel()
        if release.metadata_file:
            index.blobs[release.filename + ".metadata"] = release.metadata().encode()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = [urllib.parse.unquote(p) for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 3 and parts[0] == "files" and parts[2] in index.blobs:
                send = self._send_range if ranges else self._send
                return send(index.blobs[parts[2]], "application/octet-stream")
            if len(parts) == 2 and parts[0] == "simple" and index.project(parts[1]):
                return self._project(parts[1])
            self.send_error(404)

        def do_HEAD(self) -> None:  # noqa: N802 - uv asks before reading a wheel in ranges
            parts = [urllib.parse.unquote(p) for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 3 and parts[0] == "files" and parts[2] in index.blobs:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(index.blobs[parts[2]])))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                return None
            self.send_error(404)

        def _project(self, name: str) -> None:
            files = []
            for r in index.project(name):
                sha = hashlib.sha256(index.blobs[r.filename]).hexdigest()
                meta = hashlib.sha256(r.metadata().encode()).hexdigest()
                url = f"/files/{name}/{urllib.parse.quote(r.filename)}"
                files.append({"filename": r.filename, "url": url,
                              "hashes": {"sha256": sha}, "yanked": r.yanked or False,
                              "core-metadata": {"sha256": meta} if r.metadata_file else False,
                              **({"requires-python": r.requires_python}
                                 if r.requires_python else {}),
                              **({"upload-time": r.uploaded} if upload_times else {})})
            if JSON in (self.headers.get("Accept") or ""):
                body = {"meta": {"api-version": "1.1"}, "name": name, "files": files,
                        "versions": sorted({r.version for r in index.project(name)})}
                return self._send(json.dumps(body).encode(), JSON)
            links = "".join(
                f'<a href="{f["url"]}#sha256={f["hashes"]["sha256"]}"'
                + (f' data-yanked="{f["yanked"]}"' if f["yanked"] else "")
                + (f' data-core-metadata="sha256={f["core-metadata"]["sha256"]}"'
                   if f["core-metadata"] else "") + f'>{f["filename"]}</a>'
                for f in files)
            self._send(f"<html><body>{links}</body></html>".encode(), "text/html")

    server, url = serve_on_bridge(Handler)
    index.url = f"{url}/simple"
    return index, server


JSON = "application/vnd.pypi.simple.v1+json"
