"""One way to reach the Docker engine, with an error that says what to do when it is absent."""

from __future__ import annotations

import functools
from typing import Any

from swegc.errors import DockerUnavailableError

LABEL = "org.swegc"  # prefix of every label swegc puts on images and containers


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


def require_image(client: Any, name: str, hint: str) -> Any:
    image = image_exists(client, name)
    if image is None:
        raise DockerUnavailableError(f"image {name!r} is not in the local Docker engine; {hint}")
    return image
