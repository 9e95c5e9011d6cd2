"""A build's images: which ones its rows need, whether they exist, pushing them, pinning rows.

A row names its instance image as ``swegc.images.reference.ImageRef`` wrote it: the tag
(``image_tag``), the local id (``image_id``) and, in ``image``, the pushed ``name@sha256:digest``
when a compile with ``--registry`` pushed it, else the id. Tags move (a later compile can rebuild
an image under the same tag), ids do not, so the image that is pushed is the one with the row's
id; its reference, computed by ``image_reference`` as the compile computes it, then gives the row
its image columns (``ImageRef.columns``): ``image_id`` keeps the id. Environment images (the
shared layer under instance images) are pushed too, so that people can build on them; the
registry then already holds their layers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from swegc.errors import SwegcError
from swegc.images.reference import ImageRef, image_reference, split_tag


@dataclass(frozen=True)
class BuildImage:
    """One image to publish: ``local`` is what to push (an image id, or a name)."""

    role: str  # "instance" | "env"
    name: str  # local repository name, e.g. swegc-inst/example__calc-2
    tag: str
    local: str  # image id (instances) or name:tag (envs)
    instance_ids: tuple[str, ...]
    reference: ImageRef | None = None  # instances: the image as the row names it

    @property
    def published(self) -> str | None:
        """The registry digest the row already names (a compile with --registry pushed it)."""
        return self.reference.pushed if self.reference else None


def build_images(rows: list[dict[str, Any]], instance_reports: list[dict[str, Any]],
                 env_reports: list[dict[str, Any]]) -> list[BuildImage]:
    """Instance images of ``rows`` and the env images they were built on (from the reports).

    A row that names no image id has no image here; the publish check reports it."""
    images: list[BuildImage] = []
    for row in rows:
        try:
            reference = ImageRef.from_row(row)
        except SwegcError:
            continue
        if reference.pushed:  # keep the registry's name for what is already there
            name, tag = reference.pushed.partition("@")[0], ""
        else:
            name, tag = split_tag(reference.tag)
        images.append(BuildImage("instance", name, tag, reference.id, (row["instance_id"],),
                                 reference))
    ids = {str(r["instance_id"]) for r in rows}
    env_of = {str(r["instance_id"]): r.get("env_key") for r in instance_reports}
    for env in env_reports:
        users = tuple(sorted(i for i in ids if env_of.get(i) == env.get("env_key")))
        if users and env.get("image"):
            name, tag = split_tag(str(env["image"]))
            images.append(BuildImage("env", name, tag, str(env["image"]), users))
    return images


def pin_rows(rows: list[dict[str, Any]], references: Mapping[str, ImageRef]) -> list[dict[str, Any]]:
    """``rows`` with the image columns of their instance's reference (rows without one as
    they were); the input is not modified."""
    return [{**row, **references[str(row["instance_id"])].columns()}
            if str(row["instance_id"]) in references else dict(row) for row in rows]


def local_problem(client: Any, image: BuildImage, registry: Any = None) -> str | None:
    """Why an instance image cannot be published, or None: it must be in the local engine (by its
    id), or already in the registry under its tag with that same id."""
    from swegc.docker_client import image_exists

    if image.published:
        return None
    if client is not None and image_exists(client, image.local) is not None:
        return None
    if registry is not None and image.reference is not None and \
            image_reference(image.reference.tag, image.reference.id, registry).pushed:
        return None
    if client is None and registry is None:
        return "no Docker engine answers, so its image cannot be pushed"
    place = "the local Docker engine" + (f" or the registry {registry}" if registry is not None else "")
    return f"image {image.name}:{image.tag} (id {image.local[:19]}) is not in {place}; recompile to build it again"


@dataclass(frozen=True)
class PushReport:
    """The pushes of one publish; ``references`` maps instance ids to their pushed images."""

    pushed: list[Any]  # swegc.images.registry.PushedImage
    references: dict[str, ImageRef]
    env_references: dict[str, str]
    missing_envs: list[str]
    # instance id -> the names peer tools derive for it (swegc.images.peer_names), same digest
    peer_names: dict[str, list[str]] = field(default_factory=dict)

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
    from swegc.images.registry import existing_reference, push_image

    pushed: list[Any] = []
    references: dict[str, ImageRef] = {}
    env_references: dict[str, str] = {}
    missing: list[str] = []
    for image in sorted(images, key=lambda i: (i.role != "instance", i.name, i.tag)):
        if image.reference is not None and image.reference.pushed:  # a compile with --registry pushed it
            if not existing_reference(registry, image.reference.pushed):
                raise SwegcError(f"{image.reference.pushed} (instance {image.instance_ids[0]}) is not "
                                 f"in the registry {registry}")
            references[image.instance_ids[0]] = image.reference
            continue
        held = client is not None and image_exists(client, image.local) is not None
        if image.reference is not None:  # an instance
            reference = image_reference(image.reference.tag, image.reference.id, registry,
                                        client if held else None, pushed.append, echo)
            if reference.pushed is None:  # gone since the check: never publish the row
                raise SwegcError(f"image {image.name}:{image.tag} of {image.instance_ids[0]} disappeared "
                                 "from the local Docker engine while publishing; nothing was committed")
            for iid in image.instance_ids:
                references[iid] = reference
        elif not held:
            missing.append(f"{image.name}:{image.tag}")
        else:
            result = push_image(client, image.local, registry, image.name, image.tag, echo)
            pushed.append(result)
            env_references[f"{image.name}:{image.tag}"] = result.reference
    return PushReport(pushed, references, env_references, missing,
                      name_for_peers(registry, references, echo))


def name_for_peers(registry: Any, references: Mapping[str, ImageRef],
                   echo: Callable[[str], None]) -> dict[str, list[str]]:
    """Each pushed instance image also under the names peer tools derive from its id
    (``swegc.images.peer_names``), copied inside the registry: the same digest as the row."""
    from swegc.images.peer_names import peer_names
    from swegc.images.registry_tags import tag_in_registry

    names: dict[str, list[str]] = {}
    for iid, reference in sorted(references.items()):
        if reference.pushed:
            names[iid] = [tag_in_registry(registry, reference.pushed, registry.repository(peer.repository),
                                          peer.tag) for peer in peer_names(iid)]
    if names:
        echo(f"images: {len(names)} instance image(s) also named as OpenHands and SWE-bench derive "
             f"them from the instance id, under {registry}")
    return names
