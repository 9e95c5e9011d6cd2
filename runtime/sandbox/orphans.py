"""Containers left behind by a swegc process that was killed, found by name and removed.

Every container swegc starts is named ``swegc-<role>-<host>-<pid>-<random>``; a later run
removes those whose process no longer exists on this host, so an interrupted compile does not
leak running containers.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any


def _host() -> str:
    return "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:40] or "host"


def container_name(role: str) -> str:
    return f"swegc-{role}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(client: Any) -> int:
    """Remove this host's swegc containers whose owning process is gone; returns how many."""
    host = _host()
    removed = 0
    # ignore_removed: another process may remove one of them between the listing and its
    # inspection (a concurrent compile's cleanup), which is no error here.
    for container in client.containers.list(all=True, filters={"name": "swegc-"},
                                            ignore_removed=True):
        parts = container.name.split("-")
        # swegc-<role>-<host...>-<pid>-<hex>: the host may itself contain dashes
        if len(parts) < 5 or parts[0] != "swegc":
            continue
        owner_host, pid = "-".join(parts[2:-2]), parts[-2]
        if owner_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            container.remove(force=True)
            removed += 1
        except Exception:  # noqa: BLE001 - gone already, or being removed by another run
            pass
    return removed
