"""One pushed image under another name in the same registry, by the registry alone.

Peer tools find an instance image under a name they derive from its id
(``swegc.images.peer_names``). Pushing the local image again under that name would need the
image in the local engine (a compile with ``--registry``, or ``swegc images prune``, may have
removed it) and could give another digest. So the manifest the row names is copied inside the
registry: each blob it names is mounted into the new repository (``POST
/v2/<repo>/blobs/uploads/?mount=<digest>&from=<repo>``: nothing is uploaded) and the very same
manifest bytes are put under the new tag, so the new name has the row's digest by construction.
"""

from __future__ import annotations

import json

from swegc.errors import RegistryError
from swegc.images.registry import MANIFEST_TYPES, Registry, call_registry, manifest_digest, split_reference

_INDEX_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.oci.image.index.v1+json")


def tag_in_registry(registry: Registry, reference: str, repository: str, tag: str) -> str:
    """Puts the image ``reference`` (``HOST/REPO@sha256:..`` in ``registry``) under
    ``repository:tag`` (a path in the registry, no host) and returns ``HOST/REPOSITORY:TAG``.

    Nothing is sent when that tag already names this digest. Raises RegistryError when the
    registry lacks the image, refuses to mount its blobs, or answers with another digest."""
    host, source_repo, digest = split_reference(reference)
    target = f"{registry.host}/{repository}:{tag}"
    if host != registry.host or not digest.startswith("sha256:"):
        raise RegistryError(f"{reference} is not an image by digest in the registry {registry.host}")
    if manifest_digest(registry, repository, tag) == digest:
        return target
    base = registry.base_url
    status, headers, body = call_registry(f"{base}/v2/{source_repo}/manifests/{digest}", "GET",
                                          registry, MANIFEST_TYPES)
    if status != 200:
        raise RegistryError(f"{reference} is not in the registry (it answered {status}); "
                            "publish the build again to push it")
    content_type = headers.get("Content-Type", "").split(";")[0].strip()
    if content_type in _INDEX_TYPES:
        raise RegistryError(f"{reference} is a multi-platform index; swegc names single images only")
    manifest = json.loads(body)
    blobs = [manifest.get("config") or {}, *(manifest.get("layers") or [])]
    for blob in blobs:
        _mount(registry, str(blob.get("digest") or ""), source_repo, repository)
    status, headers, answer = call_registry(f"{base}/v2/{repository}/manifests/{tag}", "PUT", registry,
                                            data=body, content_type=content_type)
    if status not in (200, 201):
        raise RegistryError(f"the registry refused {target} ({status}: {answer[:200]!r})")
    if headers.get("Docker-Content-Digest", digest) != digest:
        raise RegistryError(f"the registry gave {target} the digest {headers['Docker-Content-Digest']}, "
                            f"not {digest}")
    return target


def _mount(registry: Registry, digest: str, source: str, target: str) -> None:
    """Mounts the blob ``digest`` of ``source`` into ``target`` (a no-op if it is there)."""
    base = registry.base_url
    status, _, _ = call_registry(f"{base}/v2/{target}/blobs/{digest}", "HEAD", registry)
    if status == 200:
        return
    status, headers, _ = call_registry(
        f"{base}/v2/{target}/blobs/uploads/?mount={digest}&from={source}", "POST", registry, data=b"")
    if status == 201:
        return
    if status == 202 and headers.get("Location"):  # the registry opened an upload instead: close it
        location = headers["Location"]
        call_registry(location if location.startswith("http") else base + location, "DELETE", registry)
    raise RegistryError(f"the registry {registry.host} did not mount {digest[:19]} from {source} into "
                        f"{target} ({status}); it must allow cross-repository blob mounts")
