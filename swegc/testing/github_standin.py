"""A local stand-in for the GitHub API: the REST and GraphQL calls that ``swegc mine`` makes.

It runs ``http.server`` on 127.0.0.1 (a free port) in a thread, is backed by a real git
repository (diffs, commit messages and dates come from git) plus fixtures for pull requests,
issues and comments, and behaves like GitHub where swegc depends on it:

- ``GET {base}/repos/o/n/pulls?state&sort&direction&per_page&page``: pagination with ``Link``
  headers, an ``ETag`` per page and ``304 Not Modified`` for a matching ``If-None-Match``;
- ``GET {base}/repos/o/n/pulls/N`` (JSON, or the diff for ``application/vnd.github.v3.diff``);
- ``POST /api/graphql`` (where PyGithub derives it from a ``/api/v3`` base URL): a small
  GraphQL interpreter over repository, pullRequest, issue, issueOrPullRequest, commits,
  closingIssuesReferences, comments and rateLimit; unknown fields are errors, as on GitHub;
- rate limits per token and resource (``X-RateLimit-*`` headers; a 304 costs nothing); it can be
  told to exhaust a token's primary limit with a reset a moment ahead, or to answer the next
  request with a secondary-limit 403 and ``Retry-After``.

Every request is recorded (kind, status, whether it was conditional) for tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class CommentFixture:
    body: str
    created_at: str
    updated_at: str | None = None


@dataclass
class IssueFixture:
    number: int
    title: str
    body: str
    created_at: str
    updated_at: str | None = None
    comments: list[CommentFixture] = field(default_factory=list)
    repo: str | None = None  # another repository's issue (closing references may cross repos)


@dataclass
class PullFixture:
    number: int
    title: str
    body: str
    created_at: str
    updated_at: str
    base_sha: str
    head_sha: str
    commits: list[str]  # the pull request's commits, oldest first
    merge_commit_sha: str | None = None
    merged_at: str | None = None
    closed_at: str | None = None
    base_ref: str = "main"
    head_ref: str = "feature"
    labels: list[str] = field(default_factory=list)
    closing_issues: list[int] = field(default_factory=list)
    state: str = "closed"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    kind: str  # pulls-list | pull | pull-diff | graphql | other
    status: int
    conditional: bool
    token: str | None


class _Budget:
    def __init__(self, limit: int):
        self.limit = limit
        self.remaining = limit
        self.reset = time.time() + 3600


class GithubStandin:
    """``with GithubStandin(repo, git_dir, pulls, issues) as gh: gh.base_url``."""

    def __init__(self, repo: str, git_dir: Path, pulls: list[PullFixture],
                 issues: list[IssueFixture] | None = None, *, tokens: list[str] | None = None,
                 rate_limit: int = 5000):
        self.repo = repo
        self.git_dir = Path(git_dir)
        self.pulls = {p.number: p for p in pulls}
        self.issues = {i.number: i for i in issues or []}
        self.tokens = list(tokens or [])
        self.rate_limit = rate_limit
        self.requests: list[RecordedRequest] = []
        self._budgets: dict[tuple[str | None, str], _Budget] = {}
        self._secondary: list[float] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> GithubStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                standin._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                standin._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GithubStandin:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v3"

    # -- controls for tests ---------------------------------------------------------------------

    def exhaust(self, token: str | None = None, resource: str = "core",
                reset_in: float = 1.0) -> None:
        """The token's primary limit is spent until ``reset_in`` seconds from now."""
        with self._lock:
            budget = self._budget(token, resource)
            budget.remaining = 0
            budget.reset = time.time() + reset_in

    def secondary_limit_next(self, retry_after: int = 1) -> None:
        """The next request is refused with a secondary rate limit and ``Retry-After``."""
        with self._lock:
            self._secondary.append(retry_after)

    def count(self, kind: str | None = None, *, status: int | None = None,
              conditional: bool | None = None) -> int:
        return sum(1 for r in self.requests if (kind is None or r.kind == kind)
                   and (status is None or r.status == status)
                   and (conditional is None or r.conditional == conditional))

    # -- HTTP -----------------------------------------------------------------------------------

    def _budget(self, token: str | None, resource: str) -> _Budget:
        key = (token, resource)
        if key not in self._budgets:
            self._budgets[key] = _Budget(self.rate_limit)
        budget = self._budgets[key]
        if budget.reset <= time.time():
            budget.remaining, budget.reset = budget.limit, time.time() + 3600
        return budget

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        auth = handler.headers.get("Authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else None
        resource = "graphql" if url.path == "/api/graphql" else "core"
        kind = self._kind(method, url.path, handler.headers.get("Accept") or "")
        conditional = "If-None-Match" in handler.headers
        if self.tokens and token not in self.tokens:
            return self._send(handler, method, url.path, kind, conditional, token, 401,
                              {"message": "Bad credentials"}, {})
        with self._lock:
            budget = self._budget(token, resource)
            limits = {"X-RateLimit-Limit": str(budget.limit), "X-RateLimit-Resource": resource,
                      "X-RateLimit-Reset": str(math.ceil(budget.reset))}
            if self._secondary:
                retry_after = self._secondary.pop(0)
                limits.update({"Retry-After": str(retry_after),
                               "X-RateLimit-Remaining": str(budget.remaining)})
                message = ("You have exceeded a secondary rate limit. Please wait a few "
                           "minutes before you try again.")
                return self._send(handler, method, url.path, kind, conditional, token, 403,
                                  {"message": message}, limits)
            if budget.remaining <= 0:
                limits["X-RateLimit-Remaining"] = "0"
                message = "API rate limit exceeded for user ID 1."
                return self._send(handler, method, url.path, kind, conditional, token, 403,
                                  {"message": message}, limits)
        status, payload, headers = self._route(method, url.path, parse_qs(url.query),
                                               handler.headers, body)
        with self._lock:
            if status != 304:
                budget.remaining -= 1
            limits["X-RateLimit-Remaining"] = str(budget.remaining)
        self._send(handler, method, url.path, kind, conditional, token, status, payload,
                   {**limits, **headers})

    def _kind(self, method: str, path: str, accept: str) -> str:
        if path == "/api/graphql":
            return "graphql"
        if re.fullmatch(r"/api/v3/repos/[^/]+/[^/]+/pulls", path):
            return "pulls-list"
        if re.fullmatch(r"/api/v3/repos/[^/]+/[^/]+/pulls/\d+", path):
            return "pull-diff" if "diff" in accept else "pull"
        return "other"

    def _send(self, handler: BaseHTTPRequestHandler, method: str, path: str, kind: str,
              conditional: bool, token: str | None, status: int, payload: Any,
              headers: dict[str, str]) -> None:
        self.requests.append(RecordedRequest(method, path, kind, status, conditional, token))
        if status == 304 or payload is None:
            data = b""
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        handler.send_response(status)
        content_type = "text/plain" if isinstance(payload, str) else "application/json"
        handler.send_header("Content-Type", f"{content_type}; charset=utf-8")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, list[str]], headers: Any,
               body: bytes) -> tuple[int, Any, dict[str, str]]:
        prefix = f"/api/v3/repos/{self.repo}/pulls"
        if method == "POST" and path == "/api/graphql":
            request = json.loads(body or b"{}")
            return 200, _graphql(self, request.get("query", ""), request.get("variables") or {}), {}
        if method == "GET" and path == prefix:
            return self._list(query, headers)
        match = re.fullmatch(re.escape(prefix) + r"/(\d+)", path)
        if method == "GET" and match and int(match.group(1)) in self.pulls:
            pull = self.pulls[int(match.group(1))]
            if "diff" in (headers.get("Accept") or ""):
                payload: Any = self._git("diff", f"{pull.base_sha}...{pull.head_sha}")
            else:
                payload = self._pull_json(pull)
            return self._conditional(payload, headers, {})
        return 404, {"message": "Not Found"}, {}

    def _conditional(self, payload: Any, headers: Any,
                     extra: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        text = payload if isinstance(payload, str) else json.dumps(payload, sort_keys=True)
        etag = f'W/"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'
        if headers.get("If-None-Match") == etag:
            return 304, None, {"ETag": etag, **extra}
        return 200, payload, {"ETag": etag, **extra}

    def _list(self, query: dict[str, list[str]], headers: Any) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", ["open"])[0]
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        pulls = [p for p in self.pulls.values() if state == "all" or p.state == state]
        key = {"updated": lambda p: p.updated_at, "created": lambda p: p.created_at}.get(
            query.get("sort", ["created"])[0], lambda p: p.created_at)
        pulls.sort(key=lambda p: (key(p), p.number),
                   reverse=query.get("direction", ["desc"])[0] == "desc")
        last = max(1, math.ceil(len(pulls) / per_page))
        chunk = pulls[(page - 1) * per_page: page * per_page]
        links = []
        base = f"{self.base_url}/repos/{self.repo}/pulls"
        params = {k: v[0] for k, v in query.items() if k != "page"}
        tail = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        if page < last:
            links.append(f'<{base}?{tail}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?{tail}&page={last}>; rel="last"')
        extra = {"Link": ", ".join(links)} if links else {}
        return self._conditional([self._pull_json(p) for p in chunk], headers, extra)

    def _pull_json(self, pull: PullFixture) -> dict[str, Any]:
        api = f"{self.base_url}/repos/{self.repo}"
        return {
            "url": f"{api}/pulls/{pull.number}", "number": pull.number, "state": pull.state,
            "title": pull.title, "body": pull.body, "created_at": pull.created_at,
            "updated_at": pull.updated_at, "closed_at": pull.closed_at or pull.merged_at,
            "merged_at": pull.merged_at, "merge_commit_sha": pull.merge_commit_sha,
            "labels": [{"name": name} for name in pull.labels],
            "user": {"login": "contributor"},
            "base": {"ref": pull.base_ref, "sha": pull.base_sha, "repo": {"full_name": self.repo}},
            "head": {"ref": pull.head_ref, "sha": pull.head_sha, "repo": {"full_name": self.repo}},
        }

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.git_dir), *args], capture_output=True,
                              check=True, text=True).stdout

    def commit_info(self, sha: str) -> dict[str, str]:
        out = self._git("show", "-s", "--format=%aI%x00%B", sha)
        stamp, _, message = out.partition("\x00")
        stamp = stamp.strip().replace("+00:00", "Z")
        return {"oid": sha, "message": message.rstrip("\n"), "authoredDate": stamp}


# -- a small GraphQL interpreter for the queries swegc sends --------------------------------------

_TOKEN = re.compile(r'\s+|,|#[^\n]*|(\.\.\.|[{}():!$\[\]=]|"(?:[^"\\]|\\.)*"|-?\d+|[A-Za-z_]\w*)')


@dataclass
class _Field:
    alias: str
    name: str
    args: dict[str, Any]
    selections: list[Any]


@dataclass
class _Fragment:
    on: str
    selections: list[Any]


class _Parser:
    def __init__(self, text: str, variables: dict[str, Any]):
        self.tokens = [m.group(1) for m in _TOKEN.finditer(text) if m.group(1)]
        self.i = 0
        self.variables = variables

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected or 'a token'}, got {token!r}")
        self.i += 1
        return token

    def document(self) -> list[Any]:
        if self.peek() == "query":
            self.take()
            if self.peek() not in ("(", "{"):
                self.take()  # operation name
            if self.peek() == "(":
                depth = 0
                while True:
                    token = self.take()
                    depth += token == "("
                    depth -= token == ")"
                    if depth == 0:
                        break
        return self.selection_set()

    def selection_set(self) -> list[Any]:
        self.take("{")
        out: list[Any] = []
        while self.peek() != "}":
            if self.peek() == "...":
                self.take()
                self.take("on")
                on = self.take()
                out.append(_Fragment(on, self.selection_set()))
                continue
            name = self.take()
            alias = name
            if self.peek() == ":":
                self.take()
                name = self.take()
            args: dict[str, Any] = {}
            if self.peek() == "(":
                self.take()
                while self.peek() != ")":
                    key = self.take()
                    self.take(":")
                    args[key] = self.value()
                self.take(")")
            subs = self.selection_set() if self.peek() == "{" else []
            out.append(_Field(alias, name, args, subs))
        self.take("}")
        return out

    def value(self) -> Any:
        token = self.take()
        if token == "$":
            return self.variables.get(self.take())
        if token.startswith('"'):
            return json.loads(token)
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        return {"true": True, "false": False, "null": None}.get(token, token)


class _NotFound(Exception):
    pass


def _connection(items: list[Any], args: dict[str, Any], typename: str) -> dict[str, Any]:
    start = int(args["after"]) if args.get("after") else 0
    count = int(args.get("first") or 100)
    page = items[start:start + count]
    return {"__typename": typename, "totalCount": len(items), "nodes": page,
            "pageInfo": {"hasNextPage": start + count < len(items),
                         "endCursor": str(start + len(page)) if page else None}}


def _graphql(standin: GithubStandin, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    try:
        selections = _Parser(query, variables).document()
    except ValueError as exc:
        return {"errors": [{"message": f"Parse error: {exc}"}]}
    errors: list[dict[str, Any]] = []
    root = {"__typename": "Query", "rateLimit": lambda a: {
        "__typename": "RateLimit", "cost": 1, "remaining": 4999, "limit": 5000,
        "resetAt": "2100-01-01T00:00:00Z"},
        "repository": lambda a: _repository(standin, a)}
    data = _resolve(root, selections, errors, [])
    return {"data": data, "errors": errors} if errors else {"data": data}


def _issue_node(standin: GithubStandin, issue: IssueFixture) -> dict[str, Any]:
    repo = issue.repo or standin.repo
    comments = [{"__typename": "IssueComment", "body": c.body, "createdAt": c.created_at,
                 "updatedAt": c.updated_at or c.created_at} for c in issue.comments]
    return {"__typename": "Issue", "number": issue.number, "title": issue.title,
            "body": issue.body, "createdAt": issue.created_at,
            "updatedAt": issue.updated_at or issue.created_at,
            "url": f"https://github.com/{repo}/issues/{issue.number}",
            "repository": {"__typename": "Repository", "nameWithOwner": repo},
            "comments": lambda a: _connection(comments, a, "IssueCommentConnection")}


def _pull_node(standin: GithubStandin, pull: PullFixture) -> dict[str, Any]:
    def commits(args: dict[str, Any]) -> dict[str, Any]:
        nodes = [{"__typename": "PullRequestCommit",
                  "commit": {"__typename": "Commit", **standin.commit_info(sha)}}
                 for sha in pull.commits]
        return _connection(nodes, args, "PullRequestCommitConnection")

    def closing(args: dict[str, Any]) -> dict[str, Any]:
        nodes = [_issue_node(standin, standin.issues[n]) for n in pull.closing_issues]
        return _connection(nodes, args, "IssueConnection")

    return {"__typename": "PullRequest", "number": pull.number, "title": pull.title,
            "body": pull.body, "commits": commits, "closingIssuesReferences": closing}


def _repository(standin: GithubStandin, args: dict[str, Any]) -> dict[str, Any]:
    if f"{args.get('owner')}/{args.get('name')}" != standin.repo:
        raise _NotFound(f"Could not resolve to a Repository with the name "
                        f"'{args.get('owner')}/{args.get('name')}'.")

    def pull(a: dict[str, Any]) -> dict[str, Any]:
        if a["number"] not in standin.pulls:
            raise _NotFound(f"Could not resolve to a PullRequest with the number of {a['number']}.")
        return _pull_node(standin, standin.pulls[a["number"]])

    def issue(a: dict[str, Any]) -> dict[str, Any]:
        found = standin.issues.get(a["number"])
        if found is None or found.repo not in (None, standin.repo):
            raise _NotFound(f"Could not resolve to an Issue with the number of {a['number']}.")
        return _issue_node(standin, found)

    def either(a: dict[str, Any]) -> dict[str, Any]:
        if a["number"] in standin.pulls:
            return _pull_node(standin, standin.pulls[a["number"]])
        return issue(a)

    return {"__typename": "Repository", "nameWithOwner": standin.repo, "pullRequest": pull,
            "issue": issue, "issueOrPullRequest": either}


def _resolve(obj: dict[str, Any], selections: list[Any], errors: list[dict[str, Any]],
             path: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sel in selections:
        if isinstance(sel, _Fragment):
            if obj.get("__typename") == sel.on:
                out.update(_resolve(obj, sel.selections, errors, path))
            continue
        if sel.name not in obj:
            errors.append({"message": f"Field '{sel.name}' doesn't exist on type "
                                      f"'{obj.get('__typename')}'", "path": [*path, sel.alias]})
            continue
        value = obj[sel.name]
        try:
            if callable(value):
                value = value(sel.args)
        except _NotFound as exc:
            errors.append({"type": "NOT_FOUND", "message": str(exc), "path": [*path, sel.alias]})
            out[sel.alias] = None
            continue
        out[sel.alias] = _shape(value, sel, errors, [*path, sel.alias])
    return out


def _shape(value: Any, sel: _Field, errors: list[dict[str, Any]], path: list[str]) -> Any:
    if isinstance(value, list):
        return [_shape(v, sel, errors, path) for v in value]
    if isinstance(value, dict):
        return _resolve(value, sel.selections, errors, path)
    return value


# -- a sample repository with pull requests merged each way GitHub merges -----------------------

@dataclass
class Sample:
    git_dir: Path
    pulls: list[PullFixture]
    issues: list[IssueFixture]
    repo: str = "acme/widgets"


class _Git:
    def __init__(self, root: Path):
        self.root = root

    def __call__(self, *args: str, date: str | None = None) -> str:
        env = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
               "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
               "HOME": str(self.root), "PATH": "/usr/bin:/bin:/usr/local/bin",
               "GIT_CONFIG_NOSYSTEM": "1"}
        if date:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
        return subprocess.run(["git", "-C", str(self.root), "-c", "commit.gpgsign=false", *args],
                              capture_output=True, check=True, text=True, env=env).stdout.strip()

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def commit(self, message: str, date: str) -> str:
        self("add", "-A")
        self("commit", "-q", "-m", message, date=date)
        return self("rev-parse", "HEAD")


def make_sample(root: Path, extra_pulls: int = 0) -> Sample:
    """A repository ``acme/widgets`` and the pull requests and issues that GitHub would show.

    #1 merge commit, linked by closingIssuesReferences to #10 (comments before and after its
    first commit); #2 squash merge, "Fixes #11" in the body (a template comment names #99);
    #3 rebase merge of two commits, the second saying "resolves <URL of #12>" (#12 has 105
    comments: two GraphQL pages); #4 closed without merging; #5 a docs-only merge commit that
    names a pull request, another repository's issue and a bare issue URL (no linked issue).
    ``extra_pulls`` more merge-commit pull requests (#100...) each close one issue (#1000...).
    """
    git = _Git(Path(root))
    Path(root).mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main")
    git.write("src/calc.py", "def add(a, b):\n    return a + b\n")
    git.write("tests/test_calc.py", "from src.calc import add\n\n\ndef test_add():\n"
              "    assert add(1, 2) == 3\n")
    git.write("README.md", "# widgets\n")
    init = git.commit("Initial commit", "2024-01-01T00:00:00Z")
    pulls: list[PullFixture] = []
    issues: list[IssueFixture] = []

    # 1: merge commit
    git("checkout", "-q", "-b", "fix-add")
    git.write("src/calc.py", "def add(a, b):\n    return int(a) + int(b)\n")
    git.write("tests/test_calc.py", "from src.calc import add\n\n\ndef test_add():\n"
              "    assert add(1, 2) == 3\n    assert add('1', 2) == 3\n")
    a1 = git.commit("Make add() accept strings", "2024-01-05T09:00:00Z")
    git("checkout", "-q", "main")
    git("merge", "-q", "--no-ff", "-m", "Merge pull request #1 from acme/fix-add", "fix-add",
        date="2024-01-07T00:00:00Z")
    m1 = git("rev-parse", "HEAD")
    pulls.append(PullFixture(1, "Make add() accept strings", "Parses both operands first.",
                             "2024-01-05T12:00:00Z", "2024-01-07T00:00:00Z", init, a1, [a1],
                             merge_commit_sha=m1, merged_at="2024-01-07T00:00:00Z",
                             head_ref="fix-add", labels=["bug"], closing_issues=[10]))
    issues.append(IssueFixture(10, "add() fails on strings", "add('1', 2) raises TypeError.",
                               "2024-01-02T00:00:00Z", comments=[
                                   CommentFixture("I can reproduce.", "2024-01-02T10:00:00Z"),
                                   CommentFixture("Look at add().", "2024-01-03T10:00:00Z"),
                                   CommentFixture("Fixed in #1.", "2024-01-06T10:00:00Z")]))

    # 2: squash merge
    git("checkout", "-q", "-b", "subtract")
    git.write("src/calc.py", "def add(a, b):\n    return int(a) + int(b)\n\n\n"
              "def sub(a, b):\n    return a - b\n")
    git.write("tests/test_sub.py", "from src.calc import sub\n\n\ndef test_sub():\n"
              "    assert sub(3, 2) == 1\n")
    b1 = git.commit("Add sub()", "2024-01-08T09:00:00Z")
    git("checkout", "-q", "main")
    git("merge", "-q", "--squash", "subtract")
    s2 = git.commit("Add sub() (#2)", "2024-01-09T00:00:00Z")
    pulls.append(PullFixture(2, "Add sub()", "Fixes #11.\n<!-- fixes #99 -->\n",
                             "2024-01-08T10:00:00Z", "2024-01-09T00:00:00Z", m1, b1, [b1],
                             merge_commit_sha=s2, merged_at="2024-01-09T00:00:00Z",
                             head_ref="subtract", labels=["feature"]))
    issues.append(IssueFixture(11, "No way to subtract", "Please add sub().",
                               "2024-01-07T00:00:00Z", comments=[
                                   CommentFixture("Same here.", "2024-01-07T12:00:00Z"),
                                   CommentFixture("Edited later.", "2024-01-08T08:00:00Z",
                                                  "2024-01-08T10:00:00Z"),
                                   CommentFixture("Before, but after an edit.",
                                                  "2024-01-08T08:30:00Z")]))
    issues.append(IssueFixture(99, "Template example", "Never linked.", "2024-01-01T00:00:00Z"))

    # 3: rebase merge of two commits
    git("checkout", "-q", "-b", "multiply")
    git.write("src/calc.py", "def add(a, b):\n    return int(a) + int(b)\n\n\n"
              "def sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n")
    c1 = git.commit("Add mul()", "2024-01-10T00:00:00Z")
    git.write("tests/test_mul.py", "from src.calc import mul\n\n\ndef test_mul():\n"
              "    assert mul(2, 3) == 6\n")
    c2 = git.commit("Test mul()\n\nresolves https://github.com/acme/widgets/issues/12",
                    "2024-01-10T12:00:00Z")
    git("checkout", "-q", "main")
    git("cherry-pick", c1, date="2024-01-11T00:00:00Z")
    git("cherry-pick", c2, date="2024-01-11T00:00:00Z")
    m3 = git("rev-parse", "HEAD")
    pulls.append(PullFixture(3, "Multiplication", "Adds mul() with a test.",
                             "2024-01-10T13:00:00Z", "2024-01-11T00:00:00Z", s2, c2, [c1, c2],
                             merge_commit_sha=m3, merged_at="2024-01-11T00:00:00Z",
                             head_ref="multiply"))
    issues.append(IssueFixture(12, "Multiply", "We need mul().", "2024-01-09T00:00:00Z",
                               comments=[CommentFixture(f"+{i}", f"2024-01-09T{i // 60:02d}:"
                                                                 f"{i % 60:02d}:00Z")
                                         for i in range(105)]))

    # 4: closed without merging
    git("checkout", "-q", "-b", "abandoned")
    git.write("src/other.py", "X = 1\n")
    d1 = git.commit("Try something", "2024-01-12T00:00:00Z")
    git("checkout", "-q", "main")
    pulls.append(PullFixture(4, "Try something", "Fixes #10", "2024-01-12T01:00:00Z",
                             "2024-01-12T02:00:00Z", m3, d1, [d1],
                             closed_at="2024-01-12T02:00:00Z", head_ref="abandoned"))

    # 5: docs only, no linked issue
    git("checkout", "-q", "-b", "docs")
    git.write("README.md", "# widgets\n\nadd, sub and mul.\n")
    e1 = git.commit("Document the functions", "2024-01-13T00:00:00Z")
    git("checkout", "-q", "main")
    git("merge", "-q", "--no-ff", "-m", "Merge pull request #5 from acme/docs", "docs",
        date="2024-01-14T00:00:00Z")
    m5 = git("rev-parse", "HEAD")
    pulls.append(PullFixture(5, "Docs", "Fixes #2 and fixes other/repo#3; see "
                             "https://github.com/acme/widgets/issues/10", "2024-01-13T01:00:00Z",
                             "2024-01-14T00:00:00Z", m3, e1, [e1], merge_commit_sha=m5,
                             merged_at="2024-01-14T00:00:00Z", head_ref="docs", labels=["docs"]))

    for k in range(extra_pulls):
        number, issue = 100 + k, 1000 + k
        day = f"2024-02-01T{k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d}Z"
        base = git("rev-parse", "HEAD")
        git("checkout", "-q", "-b", f"extra-{k}")
        git.write(f"src/mod_{k}.py", f"VALUE = {k}\n")
        git.write(f"tests/test_mod_{k}.py", f"from src.mod_{k} import VALUE\n\n\n"
                  f"def test_value():\n    assert VALUE == {k}\n")
        head = git.commit(f"Add mod_{k}", day)
        git("checkout", "-q", "main")
        git("merge", "-q", "--no-ff", "-m", f"Merge pull request #{number}", f"extra-{k}",
            date=day)
        merge = git("rev-parse", "HEAD")
        pulls.append(PullFixture(number, f"Add mod_{k}", f"Closes #{issue}", day, day, base,
                                 head, [head], merge_commit_sha=merge, merged_at=day,
                                 head_ref=f"extra-{k}", closing_issues=[issue]))
        issues.append(IssueFixture(issue, f"Need mod_{k}", "Please add it.", day, comments=[
            CommentFixture("Agreed.", day)]))
    return Sample(Path(root), pulls, issues)
