"""The one reference a row names for its instance image, computed once from the built image
and what the registry holds.

A tag moves (a later compile can rebuild an image under the same tag); an image id and a pushed
digest do not. So the columns a harness runs (``image``; ``image_name`` and ``docker_image``,
which mini-swe-agent, SkyRL, rLLM and R2E-Gym read) hold the pushed ``name@sha256:digest`` once
the image is in a registry, else the local image id (``sha256:<64 hex>``, which ``docker run``,
the docker SDK, mini-swe-agent and SWE-bench 5.x all accept); ``image_id`` always holds the id
and ``image_tag`` the tag, for people and for image housekeeping. A row therefore never runs an
image it was not validated in.

``image_reference`` is the only place that decides which reference that is: a compile unit
calls it for the image it built, the compile driver for an image a stored unit built, and
``swegc publish`` for the image of each row. ``ImageRef.columns`` is the only place that turns
it into row columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from swegc.errors import InputError
from swegc.images.registry import PushedImage, Registry, push_image, registry_copy

# The columns that name what to run: all hold ``ImageRef.immutable``.
RUN_COLUMNS = ("image", "image_name", "docker_image")


@dataclass(frozen=True)
class ImageRef:
    """An instance image as rows name it: its local tag and id, and its pushed digest if any."""

    tag: str  # local name:tag; a later build can move it
    id: str  # local image id, sha256:<hex>; what the registry's manifest config digest is
    pushed: str | None = None  # HOST/NAMESPACE/REPO@sha256:<hex> in a registry, else None

    def __post_init__(self) -> None:
        if not self.id.startswith("sha256:"):
            raise ValueError(f"image id {self.id!r} of {self.tag} is not sha256:<hex>")
        if self.pushed is not None and "@sha256:" not in self.pushed:
            raise ValueError(f"pushed reference {self.pushed!r} is not name@sha256:<hex>")

    @property
    def immutable(self) -> str:
        """The reference no later build can move: the pushed digest, else the local id."""
        return self.pushed or self.id

    def columns(self) -> dict[str, str]:
        """Every image column of a row (see the module doc)."""
        return {**dict.fromkeys(RUN_COLUMNS, self.immutable), "image_id": self.id,
                "image_tag": self.tag}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ImageRef:
        """The reference a row was written with; an InputError when it names no image id."""
        image = str(row.get("image") or "")
        image_id = str(row.get("image_id") or "")
        if not image_id.startswith("sha256:"):
            raise InputError(f"{row.get('instance_id', '?')}: the row has no local image id "
                             f"(image_id={image_id!r}); compile it again so that its image is "
                             "recorded")
        pinned = image if "@sha256:" in image else None
        # Rows before schema 3 held the tag in `image` and had no `image_tag`.
        tag = str(row.get("image_tag") or ("" if pinned or image.startswith("sha256:") else image))
        return cls(tag, image_id, pinned)


def split_tag(name: str) -> tuple[str, str]:
    """``REPOSITORY:TAG`` -> (repository, tag); a name without a tag is ``latest``."""
    repository, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:  # no tag, or the colon was a registry's port
        return name, "latest"
    return repository, tag


def image_reference(tag: str, image_id: str, registry: Registry | None = None,
                    push_from: Any | None = None,
                    on_push: Callable[[PushedImage], None] | None = None,
                    echo: Callable[[str], None] = lambda _: None) -> ImageRef:
    """The reference rows name for the image ``tag`` with local id ``image_id``.

    - Without a registry: the local id.
    - With a registry and ``push_from`` (an engine that holds the image): the image is pushed
      under its tag (nothing is sent when the registry holds this very image) and its digest is
      the reference.
    - With a registry and no engine to push from: the registry's copy under the tag when that
      copy is this very image (its config digest is the id), else no pushed reference.

    ``on_push`` hears what reaching the registry did (what was sent, or that nothing was).
    Raises RegistryError when the registry does not answer or refuses.
    """
    if registry is None:
        return ImageRef(tag, image_id)
    repository, name_tag = split_tag(tag)
    if push_from is not None:
        pushed = push_image(push_from, image_id, registry, repository, name_tag, echo)
    else:
        copy = registry_copy(registry, repository, name_tag, image_id)
        if copy is None:
            return ImageRef(tag, image_id)
        pushed = PushedImage(image_id, copy[0], copy[0].partition("@")[2], copy[1], skipped=True)
    if on_push is not None:
        on_push(pushed)
    return ImageRef(tag, image_id, pushed.reference)
