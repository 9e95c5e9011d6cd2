"""The CPU time a container's processes used, as the engine's cgroup accounting counts it.

Read through the engine's stats (``GET /containers/{id}/stats?stream=false&one-shot=true``,
``cpu_stats.cpu_usage.total_usage``: nanoseconds of user and system time of every process the
container ran, children included), about 10 ms a read, the same on cgroup v1 and v2 hosts. It
is read just before a sandbox removes its container, since a removed container's account is
gone. What it leaves out: the engine's own work for the container (``docker commit``, copying
files in and out), and a container that stopped before the read (killed by the OOM killer, say),
whose account the engine no longer reports: that reads as None, not as a cost of zero.
"""

from __future__ import annotations

from typing import Any


def container_cpu_seconds(container: Any) -> float | None:
    """CPU seconds the running ``container`` (a docker SDK container) used so far; None when the
    engine does not say (the container stopped, or is gone)."""
    try:
        stats = container.client.api.stats(container.id, stream=False, one_shot=True)
    except Exception:  # noqa: BLE001 - a container being removed, an old engine
        return None
    usage = ((stats or {}).get("cpu_stats") or {}).get("cpu_usage") or {}
    total = usage.get("total_usage")
    # a stopped container's stats are all zeros, not its account
    if not total or not (stats.get("pids_stats") or {}).get("current", 1):
        return None
    return float(total) / 1e9
