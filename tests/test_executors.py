"""Executors: the local pool and a real Ray cluster treat units and their failures alike."""

from __future__ import annotations

import pytest

from swegc.executors import LocalPool, Resources, RetryPolicy, Transient, call_with_retries
from swegc.testing.units import Flaky, Sleep, broken_unit, flaky_unit, sleep_unit
from tests.ray_fixtures import ray_cluster

FAST = RetryPolicy(attempts=3, backoff_s=0.01)


def test_a_transient_failure_is_retried_with_growing_waits_until_it_succeeds(tmp_path):
    waits: list[float] = []
    outcome = call_with_retries(flaky_unit, Flaky(str(tmp_path / "tally"), failures=2),
                                RetryPolicy(attempts=3, backoff_s=1.0), sleep=waits.append)
    assert outcome.error is None and outcome.result == 3 and outcome.attempts == 3
    assert waits == [1.0, 2.0]


def test_a_unit_that_keeps_failing_is_reported_after_the_last_attempt_not_retried_forever(tmp_path):
    [outcome] = LocalPool(2, FAST).map_unordered(flaky_unit, [Flaky(str(tmp_path / "t"), 99)])
    assert isinstance(outcome.error, Transient) and outcome.attempts == 3
    assert (tmp_path / "t").read_text().count("try") == 3


def test_a_bug_in_a_unit_is_handed_back_at_once_without_retries():
    [outcome] = LocalPool(2, FAST).map_unordered(broken_unit, [Sleep(7, 0.0)])
    assert isinstance(outcome.error, ValueError) and outcome.attempts == 1


def test_an_unknown_executor_names_the_valid_ones():
    from swegc.errors import SwegcError
    from swegc.executors import make_executor

    with pytest.raises(SwegcError, match="choose one of: local, ray"):
        make_executor("slurm")


@pytest.fixture(scope="module")
def cluster():
    with ray_cluster(workers=2, slots=2) as running:
        yield running


@pytest.fixture(scope="module")
def executor(cluster):
    from swegc.ray_executor import RayExecutor

    lines: list[str] = []
    pool = RayExecutor(address=cluster.address, retry=FAST, echo=lines.append)
    assert lines == ["ray: 2 node(s) with Docker, 4 unit slot(s), 4 CPU(s)"]
    yield pool
    pool.close()


def test_ray_runs_every_unit_on_the_worker_nodes_and_returns_each_result(executor, cluster):
    outcomes = list(executor.map_unordered(sleep_unit, [Sleep(i, 0.2) for i in range(8)]))
    assert sorted(o.result[0] for o in outcomes) == list(range(8))
    workers = {n.node_id for n in cluster.worker_nodes}
    assert {o.node for o in outcomes} <= workers
    assert all(o.error is None and o.attempts == 1 for o in outcomes)


def test_ray_retries_transient_failures_and_reports_bugs_like_the_local_pool(executor, tmp_path):
    [ok] = executor.map_unordered(flaky_unit, [Flaky(str(tmp_path / "a"), failures=2)])
    assert ok.result == 3 and ok.attempts == 3
    [gave_up] = executor.map_unordered(flaky_unit, [Flaky(str(tmp_path / "b"), failures=99)])
    assert isinstance(gave_up.error, Transient) and gave_up.attempts == 3
    assert gave_up.error.reason == "engine"
    [bug] = executor.map_unordered(broken_unit, [Sleep(3, 0.0)])
    assert isinstance(bug.error, ValueError) and "unit 3 is broken" in str(bug.error)


def test_units_needing_the_same_env_prefer_the_node_that_built_it(executor):
    [first] = executor.map_unordered(sleep_unit, [Sleep(0, 0.1)], locality=lambda _: "env-a")
    later = list(executor.map_unordered(sleep_unit, [Sleep(i, 0.5) for i in (1, 2)],
                                        locality=lambda _: "env-a"))
    assert {o.node for o in later} == {first.node}


def test_a_cap_on_units_in_flight_holds_on_the_cluster(executor):
    import time

    start = time.monotonic()
    outcomes = list(executor.map_unordered(sleep_unit, [Sleep(i, 0.5) for i in range(4)],
                                           resources=Resources(max_in_flight=1)))
    assert len(outcomes) == 4 and time.monotonic() - start >= 2.0
