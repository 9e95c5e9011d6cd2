"""Warn when a dated resolution fell far behind its date, and name what held it back.

Under ``pip_date`` a package can resolve to a release years older than the date: when a newer
release needs a dependency none of whose files were uploaded by then (a project that deleted
and re-uploaded every release, say), the resolver silently picks the last release without that
dependency. After an env build this module compares each resolved package with the newest
release the index had on the date (PEP 691 JSON pages with PEP 700 upload times), and for a
package far behind, reads the requirements of the releases it skipped (the next one and the
newest: PEP 658 metadata, else the wheel's METADATA read by range requests, as PyPI serves no
separate metadata for wheels uploaded before 2023) to find the dependency with no release
uploaded by the date that satisfies them. ``pip_date_exempt`` lifts the cap from that package.
Where none is missing, the installed package whose version the skipped release's bounds
exclude is named instead.
"""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
LAG_DAYS = 365  # a resolved release this much older than the date, with a newer one available
RANGE_BLOCK = 64 * 1024  # bytes per range request when reading a wheel's METADATA
WHOLE_WHEEL_LIMIT = 20 * 1024 * 1024  # read whole where a server takes no ranges, up to this


@dataclass(frozen=True)
class Lag:
    package: str
    resolved: str
    resolved_uploaded: str  # ISO date
    available: str  # the newest release uploaded by the date
    days_behind: int
    blockers: tuple[tuple[str, str], ...]  # (dependency, its first upload) with none by the date
    # (requirement of a skipped release, the installed version it excludes)
    bounds: tuple[tuple[str, str], ...] = ()
    unread: tuple[str, ...] = ()  # skipped releases whose requirements could not be read

    def message(self, date: str) -> str:
        text = (f"{self.package} resolved to {self.resolved} (uploaded {self.resolved_uploaded}, "
                f"{self.days_behind} days before pip_date {date[:10]}), though {self.package} "
                f"{self.available} was available then")
        if self.blockers:
            named = ", ".join(f"{dep} (first upload {first})" for dep, first in self.blockers)
            deps = ", ".join(dep for dep, _ in self.blockers)
            return (f"{text}: it needs {named}, with no release uploaded by the date; add "
                    f"pip_date_exempt: [{deps}] to resolve it without the cap")
        if self.bounds:
            named = ", ".join(f"{req} (installed: {have})" for req, have in self.bounds)
            return (f"{text}: another requirement's bounds held it back: its later releases "
                    f"need {named}; find what pins that package (`pip show`) and loosen it")
        if self.unread:
            return (f"{text}: the requirements of {', '.join(self.unread)} could not be read "
                    "from the index, so what held it back is unknown")
        return f"{text}: another requirement's bounds held it back"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _File:
    version: Version
    uploaded: datetime | None
    yanked: bool
    url: str
    metadata: bool
    requires_python: str | None = None


def _python_ok(file: _File, python: str | None) -> bool:
    """Whether a file's Requires-Python admits ``python`` (an ``x.y``; None: any)."""
    if not python or not file.requires_python:
        return True
    try:
        return SpecifierSet(file.requires_python).contains(f"{python}.0", prereleases=True)
    except InvalidSpecifier:
        return True


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _version_of(filename: str, name: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        stem = re.sub(r"\.(tar\.gz|zip|tar\.bz2|tgz)$", "", filename)
        prefix = re.match(r"^(.*?)-(\d[^-]*)$", stem)
        return Version(prefix.group(2)) if prefix else None
    except (InvalidVersion, ValueError):
        return None


class IndexReader:
    """Reads project pages from the indexes a build used (first answer per project wins)."""

    def __init__(self, index_urls: list[str], opener: urllib.request.OpenerDirector | None = None,
                 timeout_s: float = 20):
        self.index_urls = [u.rstrip("/") for u in index_urls]
        self.opener = opener or urllib.request.build_opener()
        self.timeout_s = timeout_s

    def _get(self, url: str, accept: str | None = None) -> bytes | None:
        request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        try:
            with self.opener.open(request, timeout=self.timeout_s) as response:
                return response.read()
        except OSError:
            return None

    def files(self, name: str) -> list[_File]:
        found: list[_File] = []
        for index in self.index_urls:
            body = self._get(f"{index}/{canonicalize_name(name)}/", JSON_ACCEPT)
            if body is None:
                continue
            try:
                page = json.loads(body)
            except ValueError:
                continue  # an HTML-only index has no upload times to compare
            for entry in page.get("files", []):
                version = _version_of(entry.get("filename", ""), name)
                if version is None:
                    continue
                uploaded = entry.get("upload-time")
                url = urllib.request.urljoin(f"{index}/{canonicalize_name(name)}/", entry["url"])
                found.append(_File(version, _parse_time(uploaded) if uploaded else None,
                                   bool(entry.get("yanked")), url,
                                   bool(entry.get("core-metadata") or
                                        entry.get("dist-info-metadata")),
                                   entry.get("requires-python") or None))
        return found

    def requires(self, files: list[_File], python: str | None = None) -> list[Requirement] | None:
        """The Requires-Dist of the first wheel whose metadata can be read, as they apply on
        Linux and ``python`` (none behind an extra); None when no wheel's can be read."""
        for file in files:
            url = file.url.split("#")[0]
            if not url.endswith(".whl"):
                continue
            body = self._get(url + ".metadata") if file.metadata else None
            if body is None:
                body = self._wheel_metadata(url)
            if body is not None:
                return _requirements(body.decode("utf-8", "replace"), python)
        return None

    def _wheel_metadata(self, url: str) -> bytes | None:
        """A wheel's ``*.dist-info/METADATA``, read from the zip by range requests (a few
        blocks of the archive, not the whole of a large wheel)."""
        try:
            with zipfile.ZipFile(_RangeFile(self, url)) as archive:
                names = [n for n in archive.namelist()
                         if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
                return archive.read(names[0]) if names else None
        except (OSError, zipfile.BadZipFile, ValueError, KeyError):
            return None


class _RangeFile(io.RawIOBase):
    """A remote file read by HTTP range requests, in blocks; a server that ignores ``Range``
    answers the whole file, which is then kept."""

    def __init__(self, reader: IndexReader, url: str):
        self.reader, self.url, self.pos = reader, url, 0
        self.blocks: dict[int, bytes] = {}
        self.whole: bytes | None = None
        self.size = self._total = 0
        tail = self._fetch(f"bytes=-{RANGE_BLOCK}")
        if self.whole is None:
            self.size = self._total
            self.blocks[-1] = tail  # the last bytes, where zipfile looks first

    def _fetch(self, spec: str) -> bytes:
        request = urllib.request.Request(self.url, headers={"Range": spec})
        with self.reader.opener.open(request, timeout=self.reader.timeout_s) as response:
            if response.status != 206:  # no ranges here: the whole file, if it is small
                length = response.headers.get("Content-Length") or ""
                if not length.isdigit() or int(length) > WHOLE_WHEEL_LIMIT:
                    raise OSError(f"{self.url}: no range requests, and too large to read whole")
                self.whole = response.read()
                self.size = len(self.whole)
                return self.whole
            body = response.read()
            total = (response.headers.get("Content-Range") or "").rpartition("/")[2]
            self._total = int(total) if total.isdigit() else 0
            if not self._total:
                raise OSError(f"no length in the range answer of {self.url}")
            return body

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def read(self, size: int = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.pos + size)
        data = self._slice(self.pos, end)
        self.pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _slice(self, start: int, end: int) -> bytes:
        if self.whole is not None:
            return self.whole[start:end]
        tail = self.blocks[-1]
        if start >= self.size - len(tail):
            offset = self.size - len(tail)
            return tail[start - offset:end - offset]
        out = b""
        for block in range(start // RANGE_BLOCK, (max(end, start + 1) - 1) // RANGE_BLOCK + 1):
            if block not in self.blocks:
                first = block * RANGE_BLOCK
                self.blocks[block] = self._fetch(
                    f"bytes={first}-{min(self.size, first + RANGE_BLOCK) - 1}")
            out += self.blocks[block]
        first = (start // RANGE_BLOCK) * RANGE_BLOCK
        return out[start - first:end - first]


def _requirements(metadata: str, python: str | None) -> list[Requirement]:
    """Requires-Dist lines that apply on Linux with ``python``, outside any extra."""
    environment = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                   "extra": ""}
    if python:
        environment.update(python_version=python, python_full_version=f"{python}.0")
    found = []
    for line in metadata.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        try:
            requirement = Requirement(line[len("Requires-Dist:"):].strip())
            marker: Marker | None = requirement.marker
            if marker is None or marker.evaluate(environment):
                found.append(requirement)
        except (InvalidRequirement, ValueError):
            continue
    return found


def find_lags(freeze: tuple[str, ...] | list[str], date: str, reader: IndexReader,
              exempt: tuple[str, ...] = (), lag_days: int = LAG_DAYS,
              python: str | None = None) -> list[Lag]:
    """The resolved packages (``name==version`` lines) that fell ``lag_days`` behind ``date``;
    ``python`` (``x.y``), the env's, leaves out releases that do not support it."""
    cutoff = _parse_time(date if "T" in date else f"{date}T00:00:00Z")
    skip = {canonicalize_name(n) for n in exempt}
    pins = [line.split("==", 1) for line in freeze if "==" in line]
    installed = {canonicalize_name(n): v.strip() for n, v in pins}
    pins = [(n, v) for n, v in pins if canonicalize_name(n) not in skip]

    def check(pin: tuple[str, str]) -> Lag | None:
        name, resolved = pin
        files = reader.files(name)
        try:
            current = Version(resolved)
        except InvalidVersion:
            return None
        mine = [f.uploaded for f in files if f.version == current and f.uploaded]
        by_date = [f for f in files if f.uploaded and f.uploaded <= cutoff and not f.yanked
                   and not f.version.is_prerelease and _python_ok(f, python)]
        if not mine or not by_date:
            return None
        newest = max(f.version for f in by_date)
        behind = (cutoff - min(mine)).days
        if newest <= current or behind < lag_days:
            return None
        # The release the resolver skipped first, and the newest: what stops them is the cause.
        skipped = sorted({min(f.version for f in by_date if f.version > current), newest})
        blockers: dict[str, str] = {}
        bounds: dict[str, tuple[str, str]] = {}
        unread = []
        for version in skipped:
            requires = reader.requires([f for f in by_date if f.version == version], python)
            if requires is None:
                unread.append(f"{canonicalize_name(name)} {version}")
                continue
            for requirement in requires:
                dep = canonicalize_name(requirement.name)
                if dep in blockers or dep in bounds:
                    continue
                first = _first_fitting_upload(reader.files(dep), requirement, python)
                if first is not None and first > cutoff:
                    blockers[dep] = first.date().isoformat()
                elif dep in installed and not requirement.specifier.contains(
                        installed[dep], prereleases=True):
                    bounds[dep] = (f"{requirement.name}{requirement.specifier}",
                                   f"{dep}=={installed[dep]}")
        return Lag(canonicalize_name(name), resolved, min(mine).date().isoformat(), str(newest),
                   behind, tuple(blockers.items()), tuple(bounds.values()), tuple(unread))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [lag for lag in pool.map(check, pins) if lag is not None]


def _first_fitting_upload(files: list[_File], requirement: Requirement,
                          python: str | None) -> datetime | None:
    """When the first file of a release that satisfies ``requirement`` (and supports
    ``python``) was uploaded; None when the index has no such file with an upload time."""
    uploads = [f.uploaded for f in files if f.uploaded and not f.yanked
               and requirement.specifier.contains(f.version, prereleases=True)
               and _python_ok(f, python)]
    return min(uploads) if uploads else None


def reader_for(network: Any) -> IndexReader:
    """An ``IndexReader`` for the indexes, proxies and CA bundle a build used
    (a ``BuildNetwork``)."""
    import ssl

    handlers: list[Any] = []
    proxies = {k: v for k, v in (("http", network.http_proxy), ("https", network.https_proxy))
               if v}
    handlers.append(urllib.request.ProxyHandler(proxies))
    ca = network.ca_source()
    if ca:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca)))
    urls = [network.pip_index_url or "https://pypi.org/simple"]
    if network.pip_extra_index_url:
        urls.insert(0, network.pip_extra_index_url)
    return IndexReader(urls, urllib.request.build_opener(*handlers))
