"""Units on a Ray cluster (``--executor ray``): one Ray task per unit.

The driver submits each unit as a task that asks for the unit's ``Resources`` (CPUs, memory
and one ``docker``: only nodes with a Docker engine offer that resource, as many as units they
run at once), keeps at most ``max_in_flight`` of a kind in flight (image builds), and yields
each outcome the moment its task ends, so the driver stores it, writes its logs and prints
progress as on the local pool. Units with the same locality name (the env image they build or
need) prefer the node that first ran one (a soft node affinity): an env is pulled by the nodes
that need it, not by every node.

Failures: a unit's ``Transient`` comes back as a value and is retried by the driver with
backoff (``RetryPolicy``); a worker or node that dies under a task is retried by Ray itself
(``max_retries``) on another node, and if those run out it counts as a transient failure too.
Nothing of a unit is stored until its result is back, so a dead node or a killed driver loses
only the units in flight, which the next run does again.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from swegc.errors import SwegcError
from swegc.executor_protocol import Outcome, Resources, RetryPolicy, Transient

T = TypeVar("T")
R = TypeVar("R")
DOCKER_RESOURCE = "docker"
LOCAL_OBJECT_STORE_BYTES = 512 * 1024 * 1024  # a cluster started here: bundles, results
INSTALL_HINT = "pip install 'swegc[ray]'"


def import_ray() -> Any:
    """Ray, imported only where it is used (it is an optional extra)."""
    try:
        import ray
    except ImportError:
        raise SwegcError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def _run_unit(fn: Callable[[Any], Any], item: Any) -> tuple[str, Any, str]:
    """On the worker: run the unit; a ``Transient`` comes back as a value, with the node."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    try:
        return "ok", fn(item), node
    except Transient as exc:
        return "transient", exc, node


class RayExecutor:
    """See the module doc. ``address``: a running cluster (``ray start --head``'s address, or
    ``auto``); None starts one on this machine for the life of the process."""

    remote = True

    def __init__(self, address: str | None = None, jobs: int | None = None,
                 retry: RetryPolicy = RetryPolicy(), echo: Callable[[str], None] = print,
                 system_retries: int = 3):
        ray = import_ray()
        self.retry = retry
        self.jobs = jobs
        self.system_retries = system_retries
        self._connected = False
        if not ray.is_initialized():
            quiet = {"include_dashboard": False, "log_to_driver": False,
                     "logging_level": "warning", "configure_logging": True}
            if address:
                try:
                    ray.init(address=address, **quiet)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise SwegcError(f"--ray-address {address}: cannot connect to a Ray cluster "
                                     f"there ({exc}); start one with `ray start --head`") from None
            else:
                cpus = os.cpu_count() or 1
                ray.init(num_cpus=cpus, resources={DOCKER_RESOURCE: cpus},
                         object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
            self._connected = True
        resources = ray.cluster_resources()
        if not resources.get(DOCKER_RESOURCE):
            raise SwegcError(
                f"no node of the Ray cluster{' at ' + address if address else ''} offers the "
                f"'{DOCKER_RESOURCE}' resource: start each node that has a Docker engine with "
                f"`ray start ... --resources '{{\"{DOCKER_RESOURCE}\": N}}'` (N units at once)")
        nodes = sum(1 for n in ray.nodes() if n.get("Alive") and
                    n.get("Resources", {}).get(DOCKER_RESOURCE))
        echo(f"ray: {nodes} node(s) with Docker, {resources.get(DOCKER_RESOURCE):g} unit slot(s), "
             f"{resources.get('CPU', 0):g} CPU(s)")
        self._task = ray.remote(_run_unit)
        self._where: dict[str, str] = {}  # locality name -> node that first ran a unit of it

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T], *,
                      resources: Resources = Resources(),
                      locality: Callable[[T], str | None] | None = None) -> Iterator[Outcome[T, R]]:
        ray = import_ray()
        items = list(items)
        caps = [c for c in (self.jobs, resources.max_in_flight) if c]
        cap = min(caps) if caps else len(items) or 1
        fn_ref = ray.put(fn)  # pickled once, not once per unit
        ready: deque[tuple[int, Any, int]] = deque((i, item, 1) for i, item in enumerate(items))
        later: list[tuple[float, int, Any, int]] = []  # (when, index, record, attempt)
        pending: dict[Any, tuple[int, Any, int]] = {}
        try:
            while ready or later or pending:
                now = time.monotonic()
                for entry in [e for e in later if e[0] <= now]:
                    later.remove(entry)
                    ready.append(entry[1:])
                while ready and len(pending) < cap:
                    index, record, attempt = ready.popleft()
                    pending[self._submit(fn_ref, record, resources, locality)] = (index, record, attempt)
                if not pending:
                    time.sleep(max(0.0, min(e[0] for e in later) - time.monotonic()))
                    continue
                wait = min((e[0] for e in later), default=now + 60) - now
                done, _ = ray.wait(list(pending), num_returns=1, timeout=max(0.05, wait))
                for ref in done:
                    index, record, attempt = pending.pop(ref)
                    status, value, node = self._result(ray, ref)
                    if status == "error":
                        yield Outcome(items[index], error=value, attempts=attempt, node=node)
                    elif status == "ok":
                        if locality is not None and node:
                            name = locality(record)
                            if name:
                                self._where.setdefault(name, node)
                        yield Outcome(items[index], value, attempts=attempt, node=node)
                    elif attempt < self.retry.attempts:
                        retry_with = value.retry_with if value.retry_with is not None else record
                        later.append((time.monotonic() + self.retry.delay(attempt), index,
                                      retry_with, attempt + 1))
                    else:
                        yield Outcome(items[index], error=value, attempts=attempt, node=node)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _submit(self, fn_ref: Any, record: Any, resources: Resources,
                locality: Callable[[Any], str | None] | None) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        options: dict[str, Any] = {
            "num_cpus": resources.cpus, "resources": {DOCKER_RESOURCE: resources.docker},
            "max_retries": self.system_retries, "retry_exceptions": False}
        if resources.memory_bytes:
            options["memory"] = resources.memory_bytes
        name = locality(record) if locality is not None else None
        if name and name in self._where:
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                self._where[name], soft=True, _spill_on_unavailable=True)
        return self._task.options(**options).remote(fn_ref, record)

    @staticmethod
    def _result(ray: Any, ref: Any) -> tuple[str, Any, str | None]:
        """(``ok`` | ``transient`` | ``error``, the result or exception, the node)."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the unit raised: a bug or bad input
            cause = getattr(exc, "cause", None)
            return "error", cause if isinstance(cause, BaseException) else exc, None
        except ray.exceptions.TaskCancelledError as exc:
            return "error", exc, None
        except ray.exceptions.RayError as exc:  # its worker or node died, Ray's retries spent
            return "transient", Transient("node", f"{type(exc).__name__}: {exc}"[:2000]), None

    def close(self) -> None:
        if self._connected:
            import_ray().shutdown()
            self._connected = False
