"""One way to reach the Docker engine, with an error that says what to do when it is absent."""

from __future__ import annotations

import functools
import os
from typing import Any

from swegc.errors import DockerUnavailableError, ImageGoneError, RegistryError
from swegc.redact import redact

LABEL = "org.swegc"  # prefix of every label swegc puts on images and containers
USERNAME_VARIABLE = "SWEGC_REGISTRY_USERNAME"
PASSWORD_VARIABLE = "SWEGC_REGISTRY_PASSWORD"


@functools.lru_cache(maxsize=1)
def docker_client() -> Any:
    """The engine named by DOCKER_HOST (or the local socket), checked to answer."""
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing to the user
        raise DockerUnavailableError(
            "no Docker engine answers (" + type(exc).__name__ + "). Start one "
            "(as root: apt-get install docker.io && dockerd &) or set DOCKER_HOST.") from None
    return client


def image_exists(client: Any, name: str) -> Any | None:
    """The image with this name or id, or None."""
    import docker

    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None


def list_images(client: Any, name: str | None = None,
                filters: dict[str, Any] | None = None) -> list[Any]:
    """The engine's images by ``name`` and ``filters``, as ``client.images.list`` gives them,
    less any removed meanwhile: that call lists ids and then inspects each, and an image
    another process removes in between (a parallel compile's prune, ``swegc images rm``) made
    it raise ImageNotFound and end the whole compile. A vanished image is simply not there."""
    return images_of(client, client.api.images(name=name, filters=filters))


def images_of(client: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """The images of an engine's listing (``client.api.images``), inspected now; those gone
    since the listing are left out."""
    found = []
    for row in rows:
        image = image_exists(client, row["Id"])
        if image is not None:
            found.append(image)
    return found


def require_image(client: Any, name: str, hint: str) -> Any:
    image = image_exists(client, name)
    if image is None:
        raise DockerUnavailableError(f"image {name!r} is not in the local Docker engine; {hint}")
    return image

def credentials() -> dict[str, str] | None:
    user, password = os.environ.get(USERNAME_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    return {"username": user, "password": password} if user and password else None

# How a gone image comes back: the build folder's store still holds how it was made.
REBUILD = ("a compile of the same specs into the same build folder (swegc compile SPECS --out "
           "BUILD) builds it again from the build store; a published dataset's rows name "
           "images by digest (name@sha256:...), which are pulled")
LOGIN = (f"if the registry needs a login, set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}; if "
         "it lost the image, push it again from a build that holds it (swegc publish)")


def ensure_runnable(reference: str) -> None:
    """That a row's image can be run here: in this engine, or pulled by digest (a unit of a
    published dataset on a cluster node). ``ImageGoneError`` when it is gone for good: a tag or
    id this engine lacks (nothing to pull it from), or a digest the registry says it does not
    have; a ``RegistryError`` when the registry fails otherwise (worth another try)."""
    client = docker_client()
    if image_exists(client, reference) is not None:
        return
    if "@sha256:" not in reference:
        raise ImageGoneError(reference, "not in this Docker engine (removed, or pruned after "
                             "its tag moved to a newer build)", REBUILD)
    pull_by_digest(client, reference)


def pull_by_digest(client: Any, reference: str) -> Any:
    """Pulls ``HOST/REPO@sha256:...`` and returns the image; a RegistryError if it is not there."""
    import docker

    if "@sha256:" not in reference:
        raise RegistryError(f"{reference}: pull by digest needs a name@sha256:... reference")
    name, _, digest = reference.partition("@")
    try:
        return client.images.pull(name, tag=digest, auth_config=credentials())
    except docker.errors.NotFound as exc:  # the registry answered: no such image for us
        raise ImageGoneError(reference, f"the registry does not serve it ({redact(str(exc))})",
                             LOGIN) from None
    except docker.errors.APIError as exc:
        raise RegistryError(f"pulling {reference} failed: {redact(str(exc))}") from None
