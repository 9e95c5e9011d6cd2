"""Executors run independent units of work: a local pool of threads, or a Ray cluster.

A unit is a plain function of a record (picklable, no handle on the build store or a Docker
client) and returns a typed result; results come back as they finish, each with its record, so
that the driver alone records it in the build store at once (resume needs that) and shows
progress. Every executor treats failures the same way:

- ``Transient`` (the infrastructure failed, not the unit's input) is retried with backoff,
  ``RetryPolicy.attempts`` times in all, and then handed back as the outcome's error: the caller
  reports it and never stores it as a verdict, so the next run tries again;
- any other exception is handed back at once (a bug, or bad input).

``make_executor`` picks one by short name (``local`` or ``ray``).
"""

from __future__ import annotations

import concurrent.futures as futures
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")
EXECUTORS = ("local", "ray")


class Transient(Exception):
    """The one kind of failure worth another try: the engine, a container, the registry or a
    node failed, not the unit's input. ``reason`` is a short code for reports; ``retry_with``,
    when given, is the record to retry with (one that keeps work already done, such as an
    agent's finished rollout whose grading failed)."""

    def __init__(self, reason: str, detail: str = "", retry_with: Any = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail, self.retry_with = reason, detail, retry_with

    def __reduce__(self) -> tuple[Any, ...]:  # crosses process boundaries (Ray) intact
        return (Transient, (self.reason, self.detail, self.retry_with))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is tried again."""

    attempts: int = 3  # tries in all, the first included
    backoff_s: float = 2.0  # wait before the second try; doubled before each further one
    max_backoff_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        return min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)


@dataclass(frozen=True)
class Resources:
    """What one unit needs from the node that runs it (Ray schedules by it; threads ignore it
    but ``max_in_flight``). ``docker`` is a custom resource: every node with an engine offers
    some, so units run only where there is one, and as many at once as the node allows."""

    cpus: float = 1.0
    memory_bytes: int = 0  # 0: no reservation
    docker: float = 1.0
    max_in_flight: int | None = None  # at most this many at once across the cluster


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """The result of one unit, or the exception it raised (a ``Transient`` once retries ran
    out); ``attempts`` counts tries, ``node`` names where the last one ran (Ray)."""

    item: T
    result: R | None = None
    error: BaseException | None = None
    attempts: int = 1
    node: str | None = None


class Executor(Protocol):
    # True when units run in other processes: records and results must pickle, and anything
    # made on the driver for the local pool's sake (a loaded model) must not travel.
    remote: bool

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T], *,
                      resources: Resources = Resources(),
                      locality: Callable[[T], str | None] | None = None) -> Iterator[Outcome[T, R]]:
        """Run ``fn`` on every item and yield outcomes as they complete. ``locality`` names
        what a unit makes or needs (an env image): units with the same name prefer one node."""
        ...

    def close(self) -> None:
        ...


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
