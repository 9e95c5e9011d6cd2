"""Warn when a dated resolution fell far behind its date, and name what held it back.

Under ``pip_date`` a package can resolve to a release years older than the date: when a newer
release needs a dependency none of whose files were uploaded by then (a project that deleted
and re-uploaded every release, say), the resolver silently picks the last release without that
dependency. After an env build this module compares each resolved package with the newest
release the index had on the date (PEP 691 JSON pages with PEP 700 upload times, PEP 658
metadata), and for a package far behind, reads the newer release's dependencies to find the
one with nothing uploaded by the date. ``pip_date_exempt`` lifts the cap from that package.
"""

from __future__ import annotations

import json
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
LAG_DAYS = 365  # a resolved release this much older than the date, with a newer one available


@dataclass(frozen=True)
class Lag:
    package: str
    resolved: str
    resolved_uploaded: str  # ISO date
    available: str  # the newest release uploaded by the date
    days_behind: int
    blockers: tuple[tuple[str, str], ...]  # (dependency, its first upload) with none by the date

    def message(self, date: str) -> str:
        text = (f"{self.package} resolved to {self.resolved} (uploaded {self.resolved_uploaded}, "
                f"{self.days_behind} days before pip_date {date[:10]}), though {self.package} "
                f"{self.available} was available then")
        if self.blockers:
            named = ", ".join(f"{dep} (first upload {first})" for dep, first in self.blockers)
            deps = ", ".join(dep for dep, _ in self.blockers)
            return (f"{text}: it needs {named}, with no release uploaded by the date; add "
                    f"pip_date_exempt: [{deps}] to resolve it without the cap")
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
                                        entry.get("dist-info-metadata"))))
        return found

    def requires(self, files: list[_File]) -> list[str]:
        """Names in Requires-Dist (not behind an extra) of the first wheel with metadata."""
        for file in files:
            if file.url.split("#")[0].endswith(".whl") and file.metadata:
                body = self._get(file.url.split("#")[0] + ".metadata")
                if body is None:
                    continue
                names = []
                for line in body.decode("utf-8", "replace").splitlines():
                    if line.startswith("Requires-Dist:") and "extra ==" not in line:
                        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line[14:])
                        if match:
                            names.append(match.group(1))
                return names
        return []


def find_lags(freeze: tuple[str, ...] | list[str], date: str, reader: IndexReader,
              exempt: tuple[str, ...] = (), lag_days: int = LAG_DAYS) -> list[Lag]:
    """The resolved packages (``name==version`` lines) that fell ``lag_days`` behind ``date``."""
    cutoff = _parse_time(date if "T" in date else f"{date}T00:00:00Z")
    skip = {canonicalize_name(n) for n in exempt}
    pins = [line.split("==", 1) for line in freeze if "==" in line]
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
                   and not f.version.is_prerelease]
        if not mine or not by_date:
            return None
        newest = max(f.version for f in by_date)
        behind = (cutoff - min(mine)).days
        if newest <= current or behind < lag_days:
            return None
        blockers = []
        for dep in reader.requires([f for f in by_date if f.version == newest]):
            dep_files = reader.files(dep)
            uploads = [f.uploaded for f in dep_files if f.uploaded]
            if uploads and min(uploads) > cutoff:
                blockers.append((canonicalize_name(dep), min(uploads).date().isoformat()))
        return Lag(canonicalize_name(name), resolved, min(mine).date().isoformat(), str(newest),
                   behind, tuple(blockers))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [lag for lag in pool.map(check, pins) if lag is not None]


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
