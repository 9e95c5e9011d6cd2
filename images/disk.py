"""How much disk a build's images hold, measured as the engine stores them.

The measure (what ``--max-disk`` bounds and ``swegc images prune`` reports): the bytes a build's
env and instance images add to the engine above their base images. Each image's own bytes are
Docker's ``Size`` less its parent's (an instance image is its env image plus one layer; an env
image is its base image plus the venv, the dependencies and the clone); the build's disk is the
sum of the own bytes of its images and of their ancestors up to a base image, each image once,
however many images share it. Base images (``swegc images base``, or a mapped image swegc did
not build) are shared by every build and never removed, so they are not counted. An image pulled
from a registry has no parent in the engine and counts whole.

Image ids never change what they are, so sizes and parents are read once per id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from swegc.docker_client import LABEL
from swegc.errors import InputError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)b?|(b?))\s*$", re.I)
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str, option: str = "--max-disk") -> int:
    """``20G``, ``500MB``, ``1.5GiB`` or a number of bytes -> bytes (K, M, G, T are powers of
    1000; Ki, Mi, Gi, Ti powers of 1024, as Docker reports sizes in the first)."""
    match = _SIZE.match(text)
    if not match and text.strip().startswith("-"):
        raise InputError(f"{option} {text!r}: a size cannot be negative; give one such as 20G "
                         "(0 keeps nothing the build store can rebuild)")
    if not match:
        raise InputError(f"{option} {text!r}: expected a size such as 20G, 500MB, 1.5GiB or a "
                         "number of bytes")
    number, unit, binary = float(match.group(1)), (match.group(2) or "").lower(), match.group(3)
    scale = (1024 if binary else 1000) ** _POWERS[unit] if unit else 1
    return int(number * scale)


def format_size(size: int) -> str:
    """Bytes as people read them: ``1.2 GB``, ``345.6 MB``, ``12.0 kB``."""
    for unit, power in (("GB", 3), ("MB", 2), ("kB", 1)):
        if abs(size) >= 1000 ** power:
            return f"{size / 1000 ** power:,.1f} {unit}"
    return f"{size} B"


@dataclass(frozen=True)
class ImageNode:
    """One image as the measure sees it."""

    id: str
    size: int
    parent: str | None
    base: bool  # a base image: not the build's, not counted
    tags: tuple[str, ...]


class DiskMeter:
    """Reads images from the engine and sums a build's own bytes (see the module doc)."""

    def __init__(self, client: Any):
        self.client = client
        self._by_id: dict[str, ImageNode] = {}

    def node(self, reference: str) -> ImageNode | None:
        """The image a tag or id names now, or None when the engine lacks it."""
        import docker

        if reference in self._by_id:
            return self._by_id[reference]
        try:
            image = self.client.images.get(reference)
        except docker.errors.ImageNotFound:
            return None
        attrs = image.attrs
        kind = (attrs.get("Config") or {}).get("Labels", {}) or {}
        node = ImageNode(image.id, int(attrs.get("Size") or 0), attrs.get("Parent") or None,
                         kind.get(f"{LABEL}.kind") not in ("env", "instance"), tuple(image.tags))
        self._by_id[image.id] = node
        return node

    def forget(self, image_id: str) -> None:
        """After a removal: the id may be gone, or have fewer tags."""
        self._by_id.pop(image_id, None)

    def own_bytes(self, node: ImageNode) -> int:
        parent = self.node(node.parent) if node.parent else None
        return max(0, node.size - (parent.size if parent else 0))

    def chain(self, reference: str) -> list[ImageNode]:
        """The image and its ancestors up to (not including) a base image."""
        nodes: list[ImageNode] = []
        node = self.node(reference)
        while node is not None and not node.base and node not in nodes:
            nodes.append(node)
            node = self.node(node.parent) if node.parent else None
        return nodes

    def in_use(self, references: Iterable[str]) -> int:
        """The build's disk: own bytes of these images and their ancestors, each once."""
        seen: dict[str, ImageNode] = {}
        for reference in references:
            for node in self.chain(reference):
                seen.setdefault(node.id, node)
        return sum(self.own_bytes(node) for node in seen.values())
