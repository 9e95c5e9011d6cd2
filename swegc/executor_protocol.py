"""The interface every executor implements, and the values that cross it.

A unit's needs (``Resources``), its ``Outcome``, the one failure worth another try
(``Transient``) and how patiently it is retried (``RetryPolicy``). Its own module so that each
executor (the local pool in swegc.executors, Ray in swegc.ray_executor) imports it, and the
module that picks an executor by name imports the executors, without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


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
