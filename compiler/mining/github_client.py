"""GitHub API access for mining: PyGithub's requester, several tokens in turn, rate limits obeyed.

Every request goes through :class:`GithubClient`, which

- uses one PyGithub ``Github`` per token (``GITHUB_TOKENS``, comma separated, or ``GITHUB_TOKEN``)
  and moves to the next token when one runs out of its primary rate limit;
- waits until the earliest reset when every token is out (the wait is announced on progress);
- backs off on GitHub's secondary rate limit (``Retry-After``, else exponential backoff);
- sends conditional requests (``If-None-Match``) and reports a 304 as ``Response.not_modified``;
- never lets a token reach a message: errors are re-raised as :class:`GithubError` with every
  token replaced by ``***``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swegc.errors import SwegcError

ProgressFn = Callable[[str], None]


class GithubError(SwegcError):
    """The GitHub API refused a request, or cannot be reached (the token is never shown)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    data: Any

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")


@dataclass
class TokenBudget:
    """What GitHub last said about one token's primary rate limit, per resource."""

    remaining: dict[str, int] = field(default_factory=dict)
    limit: dict[str, int] = field(default_factory=dict)
    reset: dict[str, float] = field(default_factory=dict)
    exhausted_until: dict[str, float] = field(default_factory=dict)


def tokens_from_env(environ: dict[str, str] | None = None) -> list[str]:
    """Tokens from ``GITHUB_TOKENS`` (comma separated) or else ``GITHUB_TOKEN``; may be empty."""
    env = os.environ if environ is None else environ
    raw = env.get("GITHUB_TOKENS") or env.get("GITHUB_TOKEN") or ""
    return [t.strip() for t in raw.split(",") if t.strip()]


class GithubClient:
    """REST and GraphQL calls with token rotation, rate-limit waits and request counting."""

    def __init__(self, api_url: str, tokens: list[str] | None = None, *,
                 progress: ProgressFn | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, secondary_backoff: float = 60.0,
                 max_retries: int = 8, timeout: int = 30,
                 seconds_between_requests: float | None = None):
        from github import Auth, Github  # imported here: keeps `swegc --help` fast

        self.api_url = api_url.rstrip("/")
        self._tokens = list(tokens if tokens is not None else tokens_from_env())
        auths: list[Any] = [Auth.Token(t) for t in self._tokens] or [None]
        self._clients = [Github(auth=a, base_url=self.api_url, retry=None, timeout=timeout,
                                seconds_between_requests=seconds_between_requests,
                                seconds_between_writes=None)  # GraphQL queries are reads
                         for a in auths]
        self.budgets = [TokenBudget() for _ in self._clients]
        self._current = 0
        self._progress = progress
        self._sleep = sleep
        self._clock = clock
        self._secondary_backoff = secondary_backoff
        self._max_retries = max_retries
        self.counts: Counter[str] = Counter()  # "rest", "rest-304", "graphql", "rate-limited"
        self.waited_s = 0.0

    # -- public calls ------------------------------------------------------------------------

    def get(self, path_or_url: str, params: dict[str, Any] | None = None, *,
            etag: str | None = None, accept: str | None = None) -> Response:
        """GET a REST resource (a path under the API URL, or a URL GitHub returned)."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if accept:
            headers["Accept"] = accept
        response = self._request("GET", path_or_url, params, headers, None, "core")
        self.counts["rest-304" if response.not_modified else "rest"] += 1
        return response

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a GraphQL query; a ``NOT_FOUND`` error leaves its field null."""
        url = self._clients[0].requester.graphql_url
        response = self._request("POST", url, None, {}, {"query": query, "variables": variables},
                                 "graphql")
        self.counts["graphql"] += 1
        body = response.data or {}
        errors = [e for e in body.get("errors") or [] if e.get("type") != "NOT_FOUND"]
        if errors:
            messages = "; ".join(str(e.get("message")) for e in errors)
            raise GithubError(self.redact(f"GitHub GraphQL query failed: {messages}"))
        return body.get("data") or {}

    def budget_line(self) -> str:
        """``token 1/2 core 4,990/5,000 graphql 4,999/5,000``: the remaining budget."""
        budget = self.budgets[self._current]
        parts = [f"token {self._current + 1}/{len(self._clients)}"]
        for resource in sorted(budget.limit):
            parts.append(f"{resource} {budget.remaining.get(resource, 0):,}/"
                         f"{budget.limit[resource]:,}")
        return " ".join(parts)

    def redact(self, text: str) -> str:
        for token in sorted(self._tokens, key=len, reverse=True):
            text = text.replace(token, "***")
        return text

    def close(self) -> None:
        for client in self._clients:
            client.close()

    # -- the request loop ----------------------------------------------------------------------

    def _request(self, verb: str, url: str, params: dict[str, Any] | None,
                 headers: dict[str, str], body: Any, resource: str) -> Response:
        secondary_tries = 0
        for _ in range(self._max_retries * max(1, len(self._clients)) + 1):
            index = self._pick_token(resource)
            requester = self._clients[index].requester
            try:
                status, resp_headers, text = requester.requestJson(
                    verb, url, parameters=params, headers=dict(headers), input=body)
            except Exception as exc:  # connection problems: requests/urllib3 errors
                if type(exc).__module__.startswith(("requests", "urllib3", "socket")) or \
                        isinstance(exc, OSError):
                    raise GithubError(self.redact(
                        f"cannot reach the GitHub API at {self.api_url}: {exc}")) from None
                raise
            resp_headers = {k.lower(): v for k, v in resp_headers.items()}
            self._note_budget(index, resp_headers, resource)
            data = _parse(text)
            if status < 400 or status == 304:
                return Response(status, resp_headers, data)
            message = str((data or {}).get("message", "")) if isinstance(data, dict) else ""
            kind = _rate_limit_kind(status, resp_headers, message)
            if kind == "primary":
                self.counts["rate-limited"] += 1
                reset = float(resp_headers.get("x-ratelimit-reset") or self._clock() + 60)
                self.budgets[index].exhausted_until[resource] = reset
                continue
            if kind == "secondary" and secondary_tries < self._max_retries:
                self.counts["rate-limited"] += 1
                retry_after = resp_headers.get("retry-after")
                wait = float(retry_after) if retry_after else \
                    self._secondary_backoff * 2 ** secondary_tries
                secondary_tries += 1
                self._wait(wait, f"secondary rate limit: backing off {wait:.0f}s")
                continue
            path = url.split("?")[0]
            raise GithubError(self.redact(
                f"GitHub API {verb} {path} answered {status}: {message or 'no message'}"))
        raise GithubError(f"GitHub API: gave up after repeated rate limits on {url.split('?')[0]}")

    def _pick_token(self, resource: str) -> int:
        """The current token if it has budget, else the next one that has, else wait."""
        now = self._clock()
        count = len(self._clients)
        for step in range(count):
            index = (self._current + step) % count
            until = self.budgets[index].exhausted_until.get(resource)
            if until is None or until <= now:
                self.budgets[index].exhausted_until.pop(resource, None)
                if index != self._current:
                    self._say(f"switching to token {index + 1}/{count} ({resource} budget)")
                self._current = index
                return index
        index = min(range(count), key=lambda i: self.budgets[i].exhausted_until[resource])
        wait = self.budgets[index].exhausted_until[resource] - now + 1.0
        self._wait(wait, f"every token is out of its {resource} rate limit: "
                         f"waiting {wait:.0f}s for the reset")
        self.budgets[index].exhausted_until.pop(resource, None)
        self._current = index
        return index

    def _note_budget(self, index: int, headers: dict[str, str], resource: str) -> None:
        budget = self.budgets[index]
        name = headers.get("x-ratelimit-resource", resource)
        if "x-ratelimit-remaining" in headers and "x-ratelimit-limit" in headers:
            budget.remaining[name] = int(float(headers["x-ratelimit-remaining"]))
            budget.limit[name] = int(float(headers["x-ratelimit-limit"]))
        if "x-ratelimit-reset" in headers:
            budget.reset[name] = float(headers["x-ratelimit-reset"])

    def _wait(self, seconds: float, why: str) -> None:
        seconds = max(0.0, seconds)
        self._say(why)
        self.waited_s += seconds
        self._sleep(seconds)

    def _say(self, line: str) -> None:
        if self._progress is not None:
            self._progress(self.redact(line))


def _parse(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text:
        return None
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return {"data": text}
    return {"data": text}


def _rate_limit_kind(status: int, headers: dict[str, str], message: str) -> str | None:
    """``primary``, ``secondary`` or None, as GitHub's documentation tells them apart."""
    if status not in (403, 429):
        return None
    lowered = message.lower()
    if headers.get("x-ratelimit-remaining") == "0" or lowered.startswith("api rate limit exceeded"):
        return "primary"
    if "retry-after" in headers or "secondary rate limit" in lowered or \
            lowered.endswith(("please retry your request again later.",
                              "please wait a few minutes before you try again.")):
        return "secondary"
    return None
