"""The Hub side of publishing, through huggingface_hub: repositories, commits, tags, and reading
back what was published before (for the changelog).

The token comes from ``HF_TOKEN`` or ``huggingface-cli login`` (huggingface_hub finds it); it is
never printed: every error from the client goes through ``swegc.redact`` with the token added.
Each publish commits the whole staged folder (files that are gone are deleted, unchanged ones
are not sent again) and tags the commit ``v1``, ``v2``...
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegc.errors import SwegcError
from swegc.redact import redact

_RELEASE = re.compile(r"^v(\d+)$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
KEEP_REMOTE = (".gitattributes",)


class HubError(SwegcError):
    """The Hub refused a call or cannot be reached; the message never holds the token."""


def check_repo_id(repo_id: str) -> str:
    if not _REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise SwegcError(f"--repo {repo_id!r}: expected ORG/NAME (letters, digits, . _ -)")
    return repo_id


def hub_token() -> str | None:
    from huggingface_hub import get_token

    return get_token()


@contextlib.contextmanager
def hub_errors(what: str) -> Iterator[None]:
    """Turns the client's exceptions into a HubError that says what to do, token removed."""
    from huggingface_hub import errors

    token = hub_token()
    extra = [token] if token else []
    try:
        yield
    except errors.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        hint = {401: "the Hub wants a token with write access: set HF_TOKEN or run `huggingface-cli login`",
                403: "the token may not write to this namespace",
                404: "the repository or revision does not exist (or the token cannot see it)"}.get(status or 0, "")
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HubError(redact(f"{what}: {first}" + (f"; {hint}" if hint else ""), extra)) from None
    except (OSError, ValueError) as exc:  # connection errors, invalid card metadata
        raise HubError(redact(f"{what}: {type(exc).__name__}: {exc}. Is HF_ENDPOINT right "
                              "(default https://huggingface.co)?", extra)) from None


@dataclass(frozen=True)
class Release:
    """The latest published release of a repository: its tag and commit."""

    tag: str
    number: int
    commit: str


def api() -> Any:
    from huggingface_hub import HfApi

    return HfApi()


def latest_release(hf: Any, repo_id: str, repo_type: str) -> Release | None:
    """The highest ``vN`` tag, or None when the repository does not exist or has none."""
    from huggingface_hub import errors

    try:
        refs = hf.list_repo_refs(repo_id, repo_type=repo_type)
    except errors.RepositoryNotFoundError:
        return None
    releases = [Release(t.name, int(m.group(1)), t.target_commit)
                for t in refs.tags if (m := _RELEASE.match(t.name))]
    return max(releases, key=lambda r: r.number, default=None)


def download_files(hf: Any, repo_id: str, repo_type: str, revision: str, patterns: tuple[str, ...],
                   into: Path) -> Path:
    """The files of ``revision`` matching ``patterns``, downloaded into ``into``."""
    with hub_errors(f"reading {repo_id}@{revision}"):
        hf.snapshot_download(repo_id, repo_type=repo_type, revision=revision, allow_patterns=list(patterns),
                             local_dir=str(into))
    return into


def commit_folder(hf: Any, repo_id: str, repo_type: str, folder: Path, *, private: bool,
                  message: str, description: str = "") -> str:
    """Creates the repository if needed and makes ``main`` hold exactly ``folder``; the commit sha."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    with hub_errors(f"creating {repo_type} repository {repo_id}"):
        hf.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    local = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    with hub_errors(f"listing {repo_id}"):
        remote = set(hf.list_repo_files(repo_id, repo_type=repo_type))
    operations: list[Any] = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(folder / p)) for p in local]
    operations += [CommitOperationDelete(path_in_repo=p) for p in sorted(remote - set(local))
                   if p not in KEEP_REMOTE]
    with hub_errors(f"committing to {repo_id}"):
        info = hf.create_commit(repo_id, operations, repo_type=repo_type, commit_message=message,
                                commit_description=description)
    return str(info.oid)


def tag_release(hf: Any, repo_id: str, repo_type: str, commit: str, previous: Release | None,
                message: str) -> str | None:
    """Tags ``commit`` with the next ``vN``; None when it is the previous release's commit."""
    if previous is not None and previous.commit == commit:
        return None
    tag = f"v{previous.number + 1 if previous else 1}"
    with hub_errors(f"tagging {repo_id}@{commit[:12]} as {tag}"):
        hf.create_tag(repo_id, tag=tag, tag_message=message, revision=commit, repo_type=repo_type)
    return tag


def temporary_folder(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)
