"""HTTP pieces shared by the Hub stand-in's read and write sides: answers, errors, requests."""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any


class Answer(Exception):
    """Raised inside routing to answer at once (used for errors)."""

    def __init__(self, status: int, payload: Any = None, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = dict(headers or {})


def error(status: int, message: str, code: str | None = None, **extra: str) -> Answer:
    headers = {"X-Error-Message": message, **extra}
    if code:
        headers["X-Error-Code"] = code
    return Answer(status, {"error": message}, headers)


@dataclass(frozen=True)
class Request:
    method: str
    raw_path: str
    query: dict[str, list[str]]
    body: bytes
    authorized: bool  # a valid token came with it
    has_auth: bool  # some Authorization header came with it
    range_header: str | None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except json.JSONDecodeError:
            raise error(400, "the request body is not JSON") from None


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, whether it came with a Content-Length or chunked."""
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        parts = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def ranged(data: bytes, range_header: str | None, headers: dict[str, str]) -> Answer:
    """``data`` whole (200) or the one byte range asked for (206), as the Hub and its CDN answer."""
    headers = headers | {"Content-Type": "application/octet-stream"}
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", (range_header or "").strip())
    if not match or not (match[1] or match[2]):
        return Answer(200, data, headers)
    size = len(data)
    if match[1]:
        start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
    else:
        start, end = max(size - int(match[2]), 0), size - 1
    if start >= size or start > end:
        return Answer(416, b"", headers | {"Content-Range": f"bytes */{size}"})
    return Answer(206, data[start:end + 1], headers | {"Content-Range": f"bytes {start}-{end}/{size}"})
