"""Executors run independent units of work; the one there is is a local pool of threads.

A unit is a callable and its argument; results come back as they finish, each with its
argument, so the caller can record it in the build store at once (resume needs that) and show
progress. ``Executor`` is the interface another backend (a cluster) would implement; none
exists yet, and ``make_executor`` says so for any other name.
"""

from __future__ import annotations

import concurrent.futures as futures
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """The result of one unit, or the exception it raised."""

    item: T
    result: R | None = None
    error: BaseException | None = None


class Executor(Protocol):
    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """Run ``fn`` on every item and yield outcomes as they complete."""
        ...


class LocalPool:
    """Threads: the work is Docker and git calls that wait on other processes."""

    def __init__(self, jobs: int = 2):
        self.jobs = max(1, jobs)

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        items = list(items)
        if self.jobs == 1:
            for item in items:
                try:
                    yield Outcome(item, fn(item))
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    yield Outcome(item, error=exc)
            return
        with futures.ThreadPoolExecutor(self.jobs) as pool:
            pending = {pool.submit(fn, item): item for item in items}
            try:
                for future in futures.as_completed(pending):
                    item = pending[future]
                    error = future.exception()
                    if error is not None:
                        yield Outcome(item, error=error)
                    else:
                        yield Outcome(item, future.result())
            finally:
                for future in pending:
                    future.cancel()


def make_executor(name: str = "local", jobs: int = 2, **options: Any) -> Executor:
    """An executor by short name (``local``)."""
    if name == "local":
        return LocalPool(jobs)
    from swegc.errors import SwegcError

    raise SwegcError(f"unknown executor {name!r}; choose one of: local")
