"""A build's images: which ones its rows need, whether they exist, pushing them, rewriting rows.

A row names its instance image by tag (``image_tag``; ``image`` in rows before schema 3) and by
local id (``image_id``, which ``image`` also holds until a publish pins it by digest). Tags move (a
later compile can rebuild an image under the same tag), ids do not, so the image that is pushed
is the one with the row's id; its pushed ``name@sha256:digest`` then replaces every image
reference the row has (``IMAGE_COLUMNS``, and any other column holding the same reference).
Environment images (the shared layer under instance images) are pushed too, so that people can
build on them; the registry then already holds their layers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from swegc.errors import SwegcError

IMAGE_COLUMNS = ("image", "image_id", "image_name", "docker_image")


@dataclass(frozen=True)
class BuildImage:
    """One image to publish: ``local`` is what to push (an image id, or a name)."""

    role: str  # "instance" | "env"
    name: str  # local repository name, e.g. swegc-inst/example__calc-2
    tag: str
    local: str  # image id (instances) or name:tag (envs)
    instance_ids: tuple[str, ...]
    published: str | None = None  # the row already names a registry digest


def _split_name(reference: str) -> tuple[str, str]:
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, "latest"
    return name, tag


def build_images(rows: list[dict[str, Any]], instance_reports: list[dict[str, Any]],
                 env_reports: list[dict[str, Any]]) -> list[BuildImage]:
    """Instance images of ``rows`` and the env images they were built on (from the reports)."""
    images: list[BuildImage] = []
    for row in rows:
        image = str(row.get("image") or "")
        if "@sha256:" in image:  # published before: keep that reference
            name = image.partition("@")[0]
            images.append(BuildImage("instance", name, "", image, (row["instance_id"],), published=image))
            continue
        # Since schema 3, `image` is the local id and the tag is in `image_tag`.
        name, tag = _split_name(str(row.get("image_tag") or image))
        images.append(BuildImage("instance", name, tag, str(row.get("image_id") or image), (row["instance_id"],)))
    ids = {str(r["instance_id"]) for r in rows}
    env_of = {str(r["instance_id"]): r.get("env_key") for r in instance_reports}
    for env in env_reports:
        users = tuple(sorted(i for i in ids if env_of.get(i) == env.get("env_key")))
        if users and env.get("image"):
            name, tag = _split_name(str(env["image"]))
            images.append(BuildImage("env", name, tag, str(env["image"]), users))
    return images


def rewrite_rows(rows: list[dict[str, Any]], references: Mapping[str, str]) -> list[dict[str, Any]]:
    """``rows`` with every image reference replaced by its pushed digest reference.

    ``references`` maps an instance id to its new reference. The columns of ``IMAGE_COLUMNS`` are
    rewritten, and so is any other column whose value is one of the row's old image references
    (so that columns peer tools read, whatever their name, never keep a movable tag).
    """
    out = []
    for row in rows:
        new = references.get(str(row["instance_id"]))
        if new is None:
            out.append(dict(row))
            continue
        old = {str(row[c]) for c in IMAGE_COLUMNS if isinstance(row.get(c), str) and row.get(c)}
        updated = dict(row)
        for column, value in row.items():
            if isinstance(value, str) and (column in IMAGE_COLUMNS or value in old):
                updated[column] = new
        out.append(updated)
    return out


def local_problem(client: Any, image: BuildImage, registry: Any = None) -> str | None:
    """Why an instance image cannot be published, or None: it must be in the local engine (by its
    id), or already in the registry under its tag with that same id."""
    from swegc.docker_client import image_exists
    from swegc.images.registry import registry_copy

    if image.published:
        return None
    if client is not None and image_exists(client, image.local) is not None:
        return None
    if registry is not None and image.local.startswith("sha256:") and \
            registry_copy(registry, image.name, image.tag, image.local) is not None:
        return None
    if client is None and registry is None:
        return "no Docker engine answers, so its image cannot be pushed"
    place = "the local Docker engine" + (f" or the registry {registry}" if registry is not None else "")
    return f"image {image.name}:{image.tag} (id {image.local[:19]}) is not in {place}; recompile to build it again"


@dataclass(frozen=True)
class PushReport:
    """The pushes of one publish; ``references`` maps instance ids to pushed digests."""

    pushed: list[Any]  # swegc.images.registry.PushedImage
    references: dict[str, str]
    env_references: dict[str, str]
    missing_envs: list[str]

    @property
    def bytes_sent(self) -> int:
        return sum(p.bytes_pushed for p in self.pushed)

    @property
    def skipped(self) -> int:
        return sum(p.skipped for p in self.pushed)


def push_build_images(client: Any, images: list[BuildImage], registry: Any,
                      echo: Callable[[str], None]) -> PushReport:
    """Pushes every image (instances first: envs then cost only their manifests)."""
    from swegc.docker_client import image_exists
    from swegc.images.registry import PushedImage, existing_reference, push_image, registry_copy

    pushed, references, env_references, missing = [], {}, {}, []
    for image in sorted(images, key=lambda i: (i.role != "instance", i.name, i.tag)):
        if image.published:
            if not existing_reference(registry, image.published):
                raise SwegcError(f"{image.published} (instance {image.instance_ids[0]}) is not in "
                                 f"the registry {registry}")
            references[image.instance_ids[0]] = image.published
            continue
        if client is None or image_exists(client, image.local) is None:
            copy = registry_copy(registry, image.name, image.tag, image.local) if image.role == "instance" else None
            if copy is None and image.role == "instance":  # gone since the check: never publish the row
                raise SwegcError(f"image {image.name}:{image.tag} of {image.instance_ids[0]} disappeared "
                                 "from the local Docker engine while publishing; nothing was committed")
            if copy is None:
                missing.append(f"{image.name}:{image.tag}")
                continue
            result = PushedImage(image.local, copy[0], copy[0].partition("@")[2], copy[1], skipped=True)
        else:
            result = push_image(client, image.local, registry, image.name, image.tag, echo)
        pushed.append(result)
        if image.role == "instance":
            for iid in image.instance_ids:
                references[iid] = result.reference
        else:
            env_references[f"{image.name}:{image.tag}"] = result.reference
    return PushReport(pushed, references, env_references, missing)
