"""Where a commit's version comes from, as ``compiler.versioning`` will read it when compiling.

The draft must choose a strategy that works across the history, not only at HEAD: a
``__version__`` written in a file (read at each commit, no container), else the nearest tag
(``git describe``, for projects whose version comes from setuptools_scm or versioneer), else one
fixed version. The versions it finds along the history are what the environments are split by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from swegc.compiler.draft.history import Commit, History

# The assignment a version file makes: __version__ = "1.2.3", VERSION = StrictStr('1.7'),
# __version__: str = '0.9'. Major and minor are what environments are chosen by.
FILE_PATTERN = (r"^\s*(?:__version__|VERSION)\s*(?::\s*\w+\s*)?=\s*(?:\w+\()?"
                r"['\"](?P<version>\d+\.\d+)")
TAG_PATTERN = r"^v?(?P<version>\d+\.\d+)"
_NAMES = ("__init__.py", "version.py", "_version.py", "__about__.py", "__version__.py")
_SKIP = re.compile(r"(^|/)(tests?|docs?|examples?|benchmarks?|scripts?|tools?)/")


@dataclass(frozen=True)
class VersionSource:
    """The drafted ``version`` section, its reason, and the version of each sampled commit."""

    section: dict[str, str]
    why: str
    versions: dict[str, str]  # commit sha -> "major.minor"


def find_version_source(history: History, head_files: tuple[str, ...],
                        commits: list[Commit]) -> VersionSource:
    """The strategy that gives a version to the most of ``commits`` (oldest first)."""
    shas = [c.sha for c in commits]
    best: tuple[float, str, dict[str, str]] | None = None
    head = history.head()
    pattern = re.compile(FILE_PATTERN, re.MULTILINE)
    patterns: dict[str, str] = {}
    for path in _version_files(head_files):
        if not pattern.search(history.read(head, path) or ""):
            continue
        found = _file_versions(history, path, shas, FILE_PATTERN)
        share = len(found) / max(len(shas), 1)
        if found and (best is None or share > best[0]):
            best = (share, path, found)
    if best is not None:
        patterns[best[1]] = _readable_pattern(history, best[1], shas, best[2])
    if best is not None and best[0] >= 0.5:
        share, path, found = best
        return VersionSource({"from": "file", "path": path, "pattern": patterns[path]},
                             f"{path} assigns the version at {share:.0%} of the sampled commits "
                             "of the pull-request history", found)
    tagged = _tag_versions(history, shas)
    if tagged:
        return VersionSource({"from": "git-describe", "pattern": TAG_PATTERN},
                             "no file holds a literal version through the history (setuptools_scm "
                             "or versioneer); the nearest tag gives it"
                             + (f", read at {len(tagged) / len(shas):.0%} of the sampled commits"),
                             tagged)
    if best is not None:
        share, path, found = best
        return VersionSource({"from": "file", "path": path, "pattern": patterns[path]},
                             f"{path} assigns the version, at {share:.0%} of the sampled commits "
                             "only (older pull requests without it will be rejected)", found)
    return VersionSource({"from": "fixed", "value": "0.0"},
                         "no version file and no version tags: one version, one environment",
                         {sha: "0.0" for sha in shas})


def _version_files(files: tuple[str, ...]) -> list[str]:
    found = [f for f in files if f.rsplit("/", 1)[-1] in _NAMES and not _SKIP.search(f)
             and f.count("/") <= (2 if f.startswith("src/") else 1)]
    return sorted(found, key=lambda f: (f.count("/"), f.rsplit("/", 1)[-1] != "__init__.py", f))


def _readable_pattern(history: History, path: str, shas: list[str],
                      found: dict[str, str]) -> str:
    """The plainest pattern that reads the same versions as the general one: what the
    shipped specs write (``__version__ = "(?P<version>...)``) where the project is that regular."""
    for name in ("__version__", "VERSION"):
        for quotes in ('"', "'", "['\"]"):
            candidate = f"{name} = {quotes}(?P<version>\\d+\\.\\d+)"
            if _file_versions(history, path, shas, candidate) == found:
                return candidate
    return FILE_PATTERN


def _file_versions(history: History, path: str, shas: list[str],
                   expression: str) -> dict[str, str]:
    pattern = re.compile(expression, re.MULTILINE)
    found: dict[str, str] = {}
    for sha in shas:
        match = pattern.search(history.read(sha, path) or "")
        if match:
            found[sha] = match.group("version")
    return found


def _tag_versions(history: History, shas: list[str]) -> dict[str, str]:
    pattern = re.compile(TAG_PATTERN)
    found: dict[str, str] = {}
    for sha, tag in history.describe(shas).items():
        match = pattern.match(tag)
        if match:
            found[sha] = match.group("version")
    return found


def version_key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")
