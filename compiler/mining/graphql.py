"""GraphQL queries that fetch many pull requests' and issues' details in one request each.

One query asks, for a batch of pull requests (aliases ``pr<N>``), for their commits (message,
author date: closing keywords and the hints cut-off) and GitHub's ``closingIssuesReferences``
with each issue's text and comments. A second asks for issues that only closing keywords name
(aliases ``issue<N>``, through ``issueOrPullRequest`` so a number that is a pull request is
recognised and dropped). Issues with more than one page of comments are completed page by page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swegc.compiler.mining.links import Comment

COMMENTS_PAGE = 100
COMMITS_PAGE = 100
CLOSING_PAGE = 25

_ISSUE_FIELDS = (
    "number title body url createdAt updatedAt repository { nameWithOwner } "
    f"comments(first: {COMMENTS_PAGE}) {{ totalCount pageInfo {{ hasNextPage endCursor }} "
    "nodes { body createdAt updatedAt } }")
_RATE = "rateLimit { cost remaining limit resetAt }"


@dataclass(frozen=True)
class IssueData:
    """An issue's text and comments as the store keeps them (``kind``: issue | pull | missing)."""

    number: int
    kind: str
    title: str = ""
    body: str = ""
    url: str | None = None
    created_at: str | None = None
    repo: str = ""
    comments: tuple[Comment, ...] = ()
    comments_cursor: str | None = None  # set while more comment pages remain

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "kind": self.kind, "title": self.title, "body": self.body,
                "url": self.url, "created_at": self.created_at, "repo": self.repo,
                "comments": [[c.body, c.created_at, c.updated_at] for c in self.comments]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssueData:
        return cls(number=data["number"], kind=data["kind"], title=data["title"],
                   body=data["body"], url=data["url"], created_at=data["created_at"],
                   repo=data["repo"], comments=tuple(Comment(*c) for c in data["comments"]))


@dataclass(frozen=True)
class PullDetails:
    number: int
    commit_messages: tuple[str, ...]
    first_commit_at: str | None
    closing: tuple[IssueData, ...]


def pulls_query(numbers: list[int]) -> str:
    fields = (f"number commits(first: {COMMITS_PAGE}) {{ totalCount nodes {{ commit {{ "
              f"oid message authoredDate }} }} }} closingIssuesReferences(first: {CLOSING_PAGE}) "
              f"{{ nodes {{ {_ISSUE_FIELDS} }} }}")
    aliases = " ".join(f"pr{n}: pullRequest(number: {n}) {{ {fields} }}" for n in numbers)
    return ("query MinePulls($owner: String!, $name: String!) { " + _RATE +
            " repository(owner: $owner, name: $name) { " + aliases + " } }")


def issues_query(numbers: list[int]) -> str:
    aliases = " ".join(f"issue{n}: issueOrPullRequest(number: {n}) {{ __typename "
                       f"... on Issue {{ {_ISSUE_FIELDS} }} }}" for n in numbers)
    return ("query MineIssues($owner: String!, $name: String!) { " + _RATE +
            " repository(owner: $owner, name: $name) { " + aliases + " } }")


def comments_query() -> str:
    return ("query MoreComments($owner: String!, $name: String!, $number: Int!, "
            "$after: String!) { " + _RATE + " repository(owner: $owner, name: $name) { "
            f"issue(number: $number) {{ comments(first: {COMMENTS_PAGE}, after: $after) {{ "
            "pageInfo { hasNextPage endCursor } nodes { body createdAt updatedAt } } } } }")


def _comments(connection: dict[str, Any] | None) -> tuple[tuple[Comment, ...], str | None]:
    if not connection:
        return (), None
    comments = tuple(Comment(n.get("body") or "", n["createdAt"], n.get("updatedAt") or
                             n["createdAt"]) for n in connection.get("nodes") or [])
    page = connection.get("pageInfo") or {}
    return comments, page.get("endCursor") if page.get("hasNextPage") else None


def parse_issue(number: int, node: dict[str, Any] | None) -> IssueData:
    if node is None:
        return IssueData(number=number, kind="missing")
    if node.get("__typename", "Issue") != "Issue":
        return IssueData(number=number, kind="pull")
    comments, cursor = _comments(node.get("comments"))
    return IssueData(number=node["number"], kind="issue", title=node.get("title") or "",
                     body=node.get("body") or "", url=node.get("url"),
                     created_at=node.get("createdAt"),
                     repo=(node.get("repository") or {}).get("nameWithOwner", ""),
                     comments=comments, comments_cursor=cursor)


def parse_pulls(data: dict[str, Any], numbers: list[int]) -> dict[int, PullDetails]:
    repo = data.get("repository") or {}
    details: dict[int, PullDetails] = {}
    for number in numbers:
        node = repo.get(f"pr{number}")
        if node is None:
            continue
        commits = [c["commit"] for c in (node.get("commits") or {}).get("nodes") or []]
        closing = tuple(parse_issue(i["number"], i)
                        for i in (node.get("closingIssuesReferences") or {}).get("nodes") or [])
        details[number] = PullDetails(
            number=number, commit_messages=tuple(c.get("message") or "" for c in commits),
            first_commit_at=commits[0].get("authoredDate") if commits else None,
            closing=closing)
    return details


def parse_issues(data: dict[str, Any], numbers: list[int]) -> dict[int, IssueData]:
    repo = data.get("repository") or {}
    return {n: parse_issue(n, repo.get(f"issue{n}")) for n in numbers}


def parse_more_comments(data: dict[str, Any]) -> tuple[tuple[Comment, ...], str | None]:
    issue = (data.get("repository") or {}).get("issue") or {}
    return _comments(issue.get("comments"))
