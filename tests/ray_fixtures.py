"""A real Ray cluster of several nodes on this machine (``ray.cluster_utils.Cluster``).

The head node offers no ``docker`` resource, so units run only on the worker nodes, which can
be removed mid-run like a node that dies. Object stores are small: the machine is shared.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

OBJECT_STORE = 80 * 1024 * 1024


@contextmanager
def ray_cluster(workers: int = 2, slots: int = 2) -> Iterator[Any]:
    """A head and ``workers`` nodes with ``slots`` CPUs and docker slots each; the driver
    (this process) is not connected: executors connect by the cluster's address."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'swegc[ray]')")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": OBJECT_STORE, "include_dashboard": False})
    try:
        for _ in range(workers):
            add_worker(cluster, slots)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def add_worker(cluster: Any, slots: int) -> Any:
    return cluster.add_node(num_cpus=slots, resources={"docker": slots},
                            object_store_memory=OBJECT_STORE)
