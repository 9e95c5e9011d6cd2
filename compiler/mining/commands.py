"""``swegc mine``: a repository's merged pull requests into raw, filtered and lite candidates.

For each GitHub-sourced spec (or ``--repo owner/name`` without one) it writes, under ``--out``:

- ``raw/<owner>__<name>.jsonl`` (the name lower-cased, as ``swegc compile`` writes it too): every merged pull request in the date range (SWE-Gym Raw
  style), ``Candidate.to_json`` rows sorted by number;
- ``candidates/<owner>__<name>.jsonl``: those the spec's ``source.filters`` keep, and
  ``candidates/<owner>__<name>.rejected.jsonl``: the others with the reason;
- ``lite/<owner>__<name>.jsonl``: the kept ones that meet SWE-bench Lite's criteria.

What was mined stays in ``<out>/store.sqlite``: a rerun asks GitHub only for what changed, and
an interrupted run picks up where it stopped. Progress and the remaining rate-limit budget go
to stderr; tokens come from ``GITHUB_TOKENS`` (comma separated) or ``GITHUB_TOKEN``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from swegc.build_layout import BuildLayout
from swegc.errors import SwegcError


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows with the dataset's JSONL writer; returns how many."""
    from swegc.dataset import write_jsonl

    rows = list(rows)
    write_jsonl(path, rows)
    return len(rows)


def _progress(line: str) -> None:
    if sys.stderr.isatty():
        click.echo(f"\r\x1b[2K{line}", err=True, nl=False)
    else:
        click.echo(line, err=True)


def _adhoc_spec(repo: str, api_url: str, clone: Path | None, test_globs: tuple[str, ...]) -> Any:
    from swegc.compiler.spec.model import (Filters, GithubSource, RepoSpec, SourceSpec, TestsSpec,
                                     VersionSpec)
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise SwegcError(f"--repo {repo!r}: expected owner/name")
    return RepoSpec(path=Path("<--repo>"), repo=repo,
                    source=SourceSpec(kind="github", clone=clone, github=GithubSource(api_url),
                                      filters=Filters(must_touch_tests=False,
                                                      must_touch_code=False)),
                    tests=TestsSpec(files=test_globs, command="", parser="pytest"),
                    version=VersionSpec(strategy="fixed", value="0"), environments=())


def mine_spec(spec: Any, out: Path, *, since: str | None, until: str | None,
              limit: int | None, store: Any) -> dict[str, int]:
    """Mine one spec's repository and write its four files; returns their row counts."""
    from swegc.compiler.candidates import apply_filters
    from swegc.compiler.mining.miner import mine_candidates
    from swegc.compiler.mining.filters import is_lite
    from swegc.git import GitRepo

    raw = mine_candidates(spec, store, since=since, until=until, limit=limit,
                          progress=_progress)
    if sys.stderr.isatty():
        click.echo("", err=True)
    globs = spec.tests.files

    def clone() -> GitRepo:
        if spec.source.clone is None:
            raise SwegcError(f"{spec.repo}: a candidate has no diff and the spec has no "
                             "source.clone to compute it from")
        return GitRepo.open(spec.source.clone)

    kept, rejected = apply_filters(spec, raw, clone)
    layout = BuildLayout(out)
    return {
        "raw": _write_jsonl(layout.raw_candidates(spec.repo), (c.to_json() for c in raw)),
        "kept": _write_jsonl(layout.candidates(spec.repo), (c.to_json() for c in kept)),
        "rejected": _write_jsonl(layout.rejected_candidates(spec.repo),
                                 ({"instance_id": r.instance_id, "reason": r.reason,
                                   "detail": r.detail} for r in rejected)),
        "lite": _write_jsonl(layout.lite_candidates(spec.repo),
                             (c.to_json() for c in kept if is_lite(c, globs))),
    }


@click.command("mine")
@click.argument("specs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build"),
              show_default=True, help="Build folder: raw/, candidates/, lite/ and the store.")
@click.option("--since", help="Only pull requests created on or after this ISO date.")
@click.option("--until", help="Only pull requests created before this ISO date.")
@click.option("--limit", type=click.IntRange(min=1),
              help="Mine at most N merged pull requests (most recently updated first).")
@click.option("--repo", help="Mine owner/name without a spec (no filters are applied).")
@click.option("--api-url", default="https://api.github.com", show_default=True,
              help="With --repo: the API URL (GitHub Enterprise: https://HOST/api/v3).")
@click.option("--clone", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="With --repo: a local clone to read diffs from instead of the API.")
@click.option("--tests", "test_globs", multiple=True, default=("tests/**", "**/test_*.py"),
              show_default=True, help="With --repo: globs of test files (for the lite subset).")
def mine(specs: tuple[Path, ...], out: Path, since: str | None, until: str | None,
         limit: int | None, repo: str | None, api_url: str, clone: Path | None,
         test_globs: tuple[str, ...]) -> None:
    """Mine repositories' merged pull requests into candidates (SPECS: files or folders)."""
    from swegc.store import BuildStore

    if bool(specs) == bool(repo):
        raise click.UsageError("give spec files/folders, or --repo owner/name (not both)")
    if repo:
        chosen = [_adhoc_spec(repo, api_url, clone, test_globs)]
    else:
        from swegc.compiler.spec.loader import load_specs
        loaded = load_specs(list(specs))
        chosen = [s for s in loaded if s.source.kind == "github"]
        for skipped in (s for s in loaded if s.source.kind != "github"):
            click.echo(f"{skipped.repo}: source is {skipped.source.kind}, nothing to mine",
                       err=True)
    store = BuildStore(BuildLayout(out).store)
    try:
        for spec in chosen:
            counts = mine_spec(spec, out, since=since, until=until, limit=limit, store=store)
            click.echo(f"{spec.repo}: {counts['raw']} merged pull requests, {counts['kept']} "
                       f"kept, {counts['rejected']} rejected, {counts['lite']} lite -> {out}",
                       err=True)
    finally:
        store.close()
