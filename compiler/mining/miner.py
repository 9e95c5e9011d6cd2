"""Mine a GitHub repository's merged pull requests into raw candidates.

The run, and what it costs in API requests:

1. List closed pull requests, most recently updated first (``state=closed&sort=updated&
   direction=desc``, pages followed through the ``Link`` header). The listing stops at the
   previous complete run's watermark (its newest ``updated_at``) or at ``since``, whichever
   comes first. On a rerun the first page is a conditional request (``If-None-Match``); a 304
   means nothing changed, and costs no rate limit.
2. Only merged pull requests that are new or whose ``updated_at`` changed go on; for each batch
   of them one GraphQL query brings commits and ``closingIssuesReferences`` with the issues'
   text and comments, and one more brings issues that only closing keywords name (issues are
   cached by number in the build store).
3. The diff comes from the local clone (``spec.source.clone``) when it has the merge commit;
   otherwise from the API (``application/vnd.github.v3.diff``, conditional on its ETag).
4. Each finished pull request is written to the build store at once, so an interrupted run
   resumes where it stopped; the watermark and the first page's ETag are written only when a
   listing completes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from swegc.compiler.mining.github_client import GithubClient, ProgressFn
from swegc.compiler.mining.diff import local_diff
from swegc.compiler.mining.graphql import (IssueData, PullDetails, comments_query, issues_query,
                                           parse_issues, parse_more_comments, parse_pulls,
                                           pulls_query)
from swegc.compiler.mining.links import hints_text, keyword_references
from swegc.compiler.spec.model import RepoSpec
from swegc.dates import instant
from swegc.errors import SwegcError
from swegc.records import Candidate, LinkedIssue

PR_KIND = "github-pr"  # key "owner/name#N": {"updated_at", "diff_etag", "candidate"}
ISSUE_KIND = "github-issue"  # key "owner/name#N": IssueData.to_json()
STATE_KIND = "github-listing"  # key "owner/name|since|until": {"watermark", "etag"}
DIFF_MEDIA_TYPE = "application/vnd.github.v3.diff"


class KeyValueStore(Protocol):
    def get(self, kind: str, key: str) -> Any | None: ...
    def put(self, kind: str, key: str, value: Any) -> None: ...
    def items(self, kind: str) -> Iterator[tuple[str, Any]]: ...


class _MemoryStore:
    """Stands in for the build store when none is given (nothing survives the run)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], Any] = {}

    def get(self, kind: str, key: str) -> Any | None:
        return self._data.get((kind, key))

    def put(self, kind: str, key: str, value: Any) -> None:
        self._data[(kind, key)] = value

    def items(self, kind: str) -> Iterator[tuple[str, Any]]:
        for (k, key), value in sorted(self._data.items()):
            if k == kind:
                yield key, value


@dataclass
class MiningStats:
    pages: int = 0
    listed: int = 0
    merged_in_range: int = 0
    fetched: int = 0
    reused: int = 0
    local_diffs: int = 0
    api_diffs: int = 0


class Miner:
    """One mining run over one repository (see the module docstring)."""

    def __init__(self, spec: RepoSpec, store: KeyValueStore, client: GithubClient, *,
                 since: str | None, until: str | None, limit: int | None,
                 progress: ProgressFn | None, batch_size: int = 25):
        self.spec = spec
        self.repo = spec.repo
        self.owner, _, self.name = spec.repo.partition("/")
        self.store = store
        self.client = client
        self.since, self.until = instant(since), instant(until)
        self.limit = limit
        self.progress = progress
        self.batch_size = batch_size
        self.per_page = spec.source.github.per_page if spec.source.github else 100
        self.stats = MiningStats()
        self._state_key = f"{self.repo}|{since or ''}|{until or ''}"

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> list[Candidate]:
        state = self.store.get(STATE_KIND, self._state_key) or {}
        watermark = instant(state.get("watermark"))
        visited: dict[int, Candidate] = {}
        pending: list[dict[str, Any]] = []
        newest: str | None = None
        first_etag: str | None = None
        complete = True
        url: str | None = f"/repos/{self.repo}/pulls"
        params: dict[str, Any] | None = {"state": "closed", "sort": "updated",
                                         "direction": "desc", "per_page": self.per_page}
        while url is not None:
            etag = state.get("etag") if self.stats.pages == 0 else None
            response = self.client.get(url, params, etag=etag)
            self.stats.pages += 1
            if response.not_modified:
                self._say("unchanged since the last run")
                break
            if self.stats.pages == 1:
                first_etag = response.etag
            items = response.data if isinstance(response.data, list) else []
            stop = False
            for item in items:
                self.stats.listed += 1
                updated = instant(item["updated_at"])
                newest = newest or item["updated_at"]
                if (watermark and updated and updated < watermark) or \
                        (self.since and updated and updated < self.since):
                    stop = True
                    break
                if not item.get("merged_at") or not self._in_range(item["created_at"]):
                    continue
                if self.limit is not None and self.stats.merged_in_range >= self.limit:
                    complete, stop = False, True
                    break
                self.stats.merged_in_range += 1
                cached = self.store.get(PR_KIND, self._key(item["number"]))
                if cached and cached.get("updated_at") == item["updated_at"]:
                    visited[item["number"]] = Candidate.from_json(cached["candidate"])
                    self.stats.reused += 1
                else:
                    pending.append(item)
                if len(pending) >= self.batch_size:
                    visited.update(self._fetch(pending))
                    pending = []
            self._report()
            url = None if stop else _next_link(response.headers.get("link", ""))
            params = None
        if pending:
            visited.update(self._fetch(pending))
        if complete and newest is not None:
            self.store.put(STATE_KIND, self._state_key,
                           {"watermark": newest, "etag": first_etag})
        self._report()
        if self.limit is not None:
            return [visited[n] for n in sorted(visited)]
        return self._all_in_range(visited)

    # -- details of a batch ---------------------------------------------------------------------

    def _fetch(self, items: list[dict[str, Any]]) -> dict[int, Candidate]:
        numbers = [item["number"] for item in items]
        data = self.client.graphql(pulls_query(numbers), self._vars())
        details = parse_pulls(data, numbers)
        issues = self._issues_for(items, details)
        done: dict[int, Candidate] = {}
        for item in items:
            number = item["number"]
            detail = details.get(number) or PullDetails(number, (), None, ())
            diff, diff_etag = self._diff(item, detail)
            candidate = self._candidate(item, detail, issues, diff)
            self.store.put(PR_KIND, self._key(number), {"updated_at": item["updated_at"],
                                                        "diff_etag": diff_etag,
                                                        "candidate": candidate.to_json()})
            done[number] = candidate
            self.stats.fetched += 1
        return done

    def _issues_for(self, items: list[dict[str, Any]],
                    details: dict[int, PullDetails]) -> dict[int, IssueData]:
        """Every linked issue of the batch: closing references, cache, then one query."""
        known: dict[int, IssueData] = {}
        for detail in details.values():
            for issue in detail.closing:
                if issue.repo.lower() == self.repo.lower():
                    known[issue.number] = self._complete(issue)
                    self.store.put(ISSUE_KIND, self._key(issue.number), known[issue.number].to_json())
        wanted: list[int] = []
        for item in items:
            detail = details.get(item["number"])
            texts = [item.get("title") or "", item.get("body") or "",
                     *(detail.commit_messages if detail else ())]
            for number in keyword_references(self.repo, texts):
                if number in known or number in wanted or number == item["number"]:
                    continue
                cached = self.store.get(ISSUE_KIND, self._key(number))
                if cached is not None:
                    known[number] = IssueData.from_json(cached)
                else:
                    wanted.append(number)
        for start in range(0, len(wanted), self.batch_size):
            chunk = wanted[start:start + self.batch_size]
            fetched = parse_issues(self.client.graphql(issues_query(chunk), self._vars()), chunk)
            for number, issue in fetched.items():
                known[number] = self._complete(issue)
                self.store.put(ISSUE_KIND, self._key(number), known[number].to_json())
        return known

    def _complete(self, issue: IssueData) -> IssueData:
        """Follow the issue's comment pages until none remain."""
        comments, cursor = list(issue.comments), issue.comments_cursor
        while cursor:
            data = self.client.graphql(comments_query(),
                                       {**self._vars(), "number": issue.number, "after": cursor})
            more, cursor = parse_more_comments(data)
            comments.extend(more)
        return IssueData(number=issue.number, kind=issue.kind, title=issue.title,
                         body=issue.body, url=issue.url, created_at=issue.created_at,
                         repo=issue.repo, comments=tuple(comments))

    def _diff(self, item: dict[str, Any], detail: PullDetails) -> tuple[str | None, str | None]:
        diff = local_diff(self.spec.source.clone, item.get("merge_commit_sha"),
                          detail.commit_messages)
        if diff is not None:
            self.stats.local_diffs += 1
            return diff, None
        cached = self.store.get(PR_KIND, self._key(item["number"])) or {}
        etag = cached.get("diff_etag")
        response = self.client.get(f"/repos/{self.repo}/pulls/{item['number']}",
                                   etag=etag, accept=DIFF_MEDIA_TYPE)
        self.stats.api_diffs += 1
        if response.not_modified:
            return cached["candidate"].get("diff"), etag
        text = response.data.get("data") if isinstance(response.data, dict) else None
        return text or "", response.etag

    def _candidate(self, item: dict[str, Any], detail: PullDetails,
                   issues: dict[int, IssueData], diff: str | None) -> Candidate:
        texts = [item.get("title") or "", item.get("body") or "", *detail.commit_messages]
        numbers = {i.number for i in detail.closing if i.repo.lower() == self.repo.lower()}
        numbers.update(keyword_references(self.repo, texts))
        numbers.discard(item["number"])
        linked = [issues[n] for n in sorted(numbers) if n in issues and issues[n].kind == "issue"]
        base = item.get("base") or {}
        return Candidate(
            repo=self.repo, number=item["number"], base_commit=base.get("sha") or "",
            title=item.get("title") or "", body=item.get("body") or "",
            merge_commit=item.get("merge_commit_sha"), diff=diff,
            created_at=item["created_at"], merged_at=item.get("merged_at"),
            base_branch=base.get("ref"),
            labels=tuple(label["name"] for label in item.get("labels") or ()),
            issues=tuple(LinkedIssue(number=i.number, title=i.title, body=i.body, url=i.url,
                                     created_at=i.created_at) for i in linked),
            hints_text=hints_text([list(i.comments) for i in linked], detail.first_commit_at),
            commit_messages=detail.commit_messages, source="github")

    # -- helpers ----------------------------------------------------------------------------

    def _in_range(self, created_at: str) -> bool:
        created = instant(created_at)
        if created is None:
            return False
        if self.since and created < self.since:
            return False
        return not (self.until and created >= self.until)

    def _all_in_range(self, visited: dict[int, Candidate]) -> list[Candidate]:
        found = dict(visited)
        prefix = f"{self.repo}#"
        for key, record in self.store.items(PR_KIND):
            if key.startswith(prefix):
                candidate = Candidate.from_json(record["candidate"])
                if candidate.number not in found and self._in_range(candidate.created_at):
                    found[candidate.number] = candidate
        return [found[n] for n in sorted(found)]

    def _key(self, number: int) -> str:
        return f"{self.repo}#{number}"

    def _vars(self) -> dict[str, Any]:
        return {"owner": self.owner, "name": self.name}

    def _report(self) -> None:
        s = self.stats
        self._say(f"pages {s.pages}, listed {s.listed}, merged {s.merged_in_range} "
                  f"(fetched {s.fetched}, unchanged {s.reused}) | {self.client.budget_line()}")

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(f"{self.repo}: {line}")


def _next_link(header: str) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None on the last page."""
    for part in header.split(","):
        section = part.split(";")
        if len(section) >= 2 and any(s.strip() == 'rel="next"' for s in section[1:]):
            return section[0].strip().strip("<>")
    return None


def mine_candidates(spec: RepoSpec, store: KeyValueStore | None, *, since: str | None = None,
                    until: str | None = None, limit: int | None = None,
                    progress: ProgressFn | None = None, client: GithubClient | None = None,
                    batch_size: int = 25) -> list[Candidate]:
    """Raw candidates (every merged pull request created in [since, until)), sorted by number.

    ``since``/``until`` default to the spec's ``source.filters``; ``limit`` mines at most that
    many pull requests (the most recently updated first). ``store`` keeps what was mined so a
    rerun asks only for what changed; ``client`` defaults to one built from the spec's
    ``source.github.api_url`` and ``GITHUB_TOKENS``/``GITHUB_TOKEN``.
    """
    if spec.source.kind != "github" or spec.source.github is None:
        raise SwegcError(f"{spec.where('source')}: source is {spec.source.kind!r}, not github; "
                         "only a GitHub source can be mined")
    filters = spec.source.filters
    own_client = client is None
    if client is None:
        client = GithubClient(spec.source.github.api_url, progress=progress,
                              seconds_between_requests=None)
    try:
        miner = Miner(spec, store if store is not None else _MemoryStore(), client,
                      since=since or filters.since, until=until or filters.until, limit=limit,
                      progress=progress, batch_size=batch_size)
        return miner.run()
    finally:
        if own_client:
            client.close()

