"""Units that stand in for real ones in tests and benchmarks of executors: importable by the
workers of a Ray cluster (a test module is not), cheap, and with known behaviour."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from swegc.executors import Transient


@dataclass(frozen=True)
class Sleep:
    """Sleep ``seconds`` (a unit bound by waiting, like one waiting on a container)."""

    index: int
    seconds: float


def sleep_unit(job: Sleep) -> tuple[int, int]:
    """Sleeps; returns (index, process id) so a caller can see where it ran."""
    time.sleep(job.seconds)
    return job.index, os.getpid()


@dataclass(frozen=True)
class Flaky:
    """Fails transiently ``failures`` times, then succeeds; tries are counted in ``tally``,
    a file, so that tries in other processes count too."""

    tally: str
    failures: int


def flaky_unit(job: Flaky) -> int:
    tally = Path(job.tally)
    with tally.open("a") as handle:
        handle.write("try\n")
    tries = len(tally.read_text().splitlines())
    if tries <= job.failures:
        raise Transient("engine", f"simulated failure {tries}")
    return tries


def broken_unit(job: Sleep) -> None:
    """A bug: raises a plain exception, which is never retried."""
    raise ValueError(f"unit {job.index} is broken")
