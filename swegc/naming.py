"""Names shared by the compiler and the runtime: base images and image repositories."""

from __future__ import annotations

import os
import re

from swegc.errors import SwegcError

# The prefix of the repositories swegc names its env and instance images under:
# ``<namespace>-env/...`` and ``<namespace>-inst/...``. The test suite sets its own, so that it
# never builds, moves or removes an image under a name a user's build folder points at.
IMAGE_NAMESPACE_VARIABLE = "SWEGC_IMAGE_NAMESPACE"
DEFAULT_IMAGE_NAMESPACE = "swegc"
_NAMESPACE = re.compile(r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")

# Debian's python3 decides the interpreter of a debootstrapped base image.
DEBIAN_SUITES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
DEFAULT_BASE_IMAGES = {version: f"swegc-base:{suite}" for version, suite in DEBIAN_SUITES.items()}


def repo_slug(repo: str) -> str:
    """``Owner/Name`` -> ``owner__name``: a valid, lower-case Docker repository component."""
    owner, _, name = repo.partition("/")
    return f"{owner}__{name}".lower()


def image_namespace() -> str:
    """The image name prefix: ``SWEGC_IMAGE_NAMESPACE``, else ``swegc``."""
    namespace = os.environ.get(IMAGE_NAMESPACE_VARIABLE) or DEFAULT_IMAGE_NAMESPACE
    if not _NAMESPACE.match(namespace):
        raise SwegcError(f"{IMAGE_NAMESPACE_VARIABLE}={namespace!r} is not a Docker repository "
                         "name part: use lower-case letters, digits and single -, _ or . inside")
    return namespace


def env_image_name(repo: str, key: str) -> str:
    return f"{image_namespace()}-env/{repo_slug(repo)}:{key}"


def instance_image_name(instance_id: str, key: str) -> str:
    return f"{image_namespace()}-inst/{instance_id.lower()}:{key}"
