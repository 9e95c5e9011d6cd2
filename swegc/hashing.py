"""Content hashes: the identity of every unit of work and every image."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "to_json"):
        return value.to_json()
    raise TypeError(f"cannot hash a {type(value).__name__}")


def content_hash(*parts: Any, length: int = 16) -> str:
    """A short hex digest of the given values (sha256 of their stable JSON)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(stable_json(part).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:length]
