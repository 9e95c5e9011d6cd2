"""Executors run independent units of work: a local pool of threads, or a Ray cluster.

A unit is a plain function of a record (picklable, no handle on the build store or a Docker
client) and returns a typed result; results come back as they finish, each with its record, so
that the driver alone records it in the build store at once (resume needs that) and shows
progress. Every executor treats failures the same way:

- ``Transient`` (the infrastructure failed, not the unit's input) is retried with backoff,
  ``RetryPolicy.attempts`` times in all, and then handed back as the outcome's error: the caller
  reports it and never stores it as a verdict, so the next run tries again;
- any other exception is handed back at once (a bug, or bad input).

``make_executor`` picks one by short name (``local`` or ``ray``). The interface and the values
that cross it live in swegc.executor_protocol (re-exported here), which Ray's executor imports.
"""

from __future__ import annotations

import concurrent.futures as futures
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from swegc.executor_protocol import Executor, Outcome, Resources, RetryPolicy, Transient

__all__ = ["EXECUTORS", "Executor", "LocalPool", "Outcome", "Resources", "RetryPolicy", "Transient",
           "call_with_retries", "make_executor", "write_logs"]
T = TypeVar("T")
R = TypeVar("R")
EXECUTORS = ("local", "ray")


def call_with_retries(fn: Callable[[T], R], item: T, retry: RetryPolicy,
                      sleep: Callable[[float], None] = time.sleep) -> Outcome[T, R]:
    """One unit, its transient failures retried in place (the local pool's way)."""
    current: Any = item
    for attempt in range(1, retry.attempts + 1):
        try:
            return Outcome(item, fn(current), attempts=attempt)
        except Transient as exc:
            if exc.retry_with is not None:
                current = exc.retry_with
            if attempt == retry.attempts:
                return Outcome(item, error=exc, attempts=attempt)
            sleep(retry.delay(attempt))
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            return Outcome(item, error=exc, attempts=attempt)
    raise AssertionError("unreachable")


class LocalPool:
    """Threads: the work is Docker and git calls that wait on other processes."""

    remote = False

    def __init__(self, jobs: int = 2, retry: RetryPolicy = RetryPolicy()):
        self.jobs = max(1, jobs)
        self.retry = retry

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T], *,
                      resources: Resources = Resources(),
                      locality: Callable[[T], str | None] | None = None) -> Iterator[Outcome[T, R]]:
        items = list(items)
        jobs = min(self.jobs, resources.max_in_flight or self.jobs)
        if jobs == 1:
            for item in items:
                yield call_with_retries(fn, item, self.retry)
            return
        with futures.ThreadPoolExecutor(jobs) as pool:
            pending = [pool.submit(call_with_retries, fn, item, self.retry) for item in items]
            try:
                for future in futures.as_completed(pending):
                    yield future.result()
            finally:
                for future in pending:
                    future.cancel()

    def close(self) -> None:
        pass


def write_logs(logs: dict[str, str]) -> None:
    """The driver's side of a unit's logs: each text goes to the path its name gives (units
    write theirs on whatever node ran them and send the text back with the result)."""
    from pathlib import Path

    for name, text in logs.items():
        path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_executor(name: str = "local", jobs: int | None = None, *, address: str | None = None,
                  retry: RetryPolicy = RetryPolicy(), echo: Callable[[str], None] = print) -> Executor:
    """An executor by short name: ``local`` (``jobs`` threads, 2 when not given) or ``ray``
    (a Ray cluster at ``address``, or one started on this machine; at most ``jobs`` units at
    once when given, else as many as the cluster's nodes offer)."""
    from swegc.errors import SwegcError

    if name == "local":
        if address:
            raise SwegcError("--ray-address is for --executor ray")
        return LocalPool(jobs or 2, retry)
    if name == "ray":
        from swegc.ray_executor import RayExecutor

        return RayExecutor(address=address, jobs=jobs, retry=retry, echo=echo)
    raise SwegcError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
