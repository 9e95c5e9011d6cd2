"""Names shared by the compiler and the runtime: base images and image repositories."""

from __future__ import annotations

# Debian's python3 decides the interpreter of a debootstrapped base image.
DEBIAN_SUITES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
DEFAULT_BASE_IMAGES = {version: f"swegc-base:{suite}" for version, suite in DEBIAN_SUITES.items()}


def repo_slug(repo: str) -> str:
    """``Owner/Name`` -> ``owner__name``: a valid, lower-case Docker repository component."""
    owner, _, name = repo.partition("/")
    return f"{owner}__{name}".lower()


def env_image_name(repo: str, key: str) -> str:
    return f"swegc-env/{repo_slug(repo)}:{key}"


def instance_image_name(instance_id: str, key: str) -> str:
    return f"swegc-inst/{instance_id.lower()}:{key}"
