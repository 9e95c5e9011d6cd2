"""Images in a registry, by digest: push what the registry lacks, pull by ``name@sha256:...``.

A published row must name an image that no later build can move, so images are pushed and the
row names the pushed manifest's digest. Pushing is the Docker engine's job (docker SDK); this
module decides what to send and reads back what happened:

- before a push, ``GET /v2/<name>/manifests/<tag>`` asks the registry whether it already holds
  this very image (a manifest's config digest is the local image id); then nothing is sent;
- otherwise the engine pushes, and itself skips the layers the registry has (it HEADs each blob);
  the push stream says which layers were sent and how many bytes.

Registries on 127.0.0.0/8 and localhost are spoken to over plain http (dockerd treats them as
insecure-allowed), others over https. Credentials come from ``SWEGC_REGISTRY_USERNAME`` and
``SWEGC_REGISTRY_PASSWORD``; they are passed to the engine per call and never printed.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from swegc.docker_client import PASSWORD_VARIABLE, USERNAME_VARIABLE, credentials
from swegc.errors import RegistryError, SwegcError
from swegc.redact import redact

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?$")
_PATH = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")



@dataclass(frozen=True)
class Registry:
    """``HOST[:PORT]/NAMESPACE``: where images go; ``namespace`` may hold several path parts."""

    host: str
    namespace: str = ""

    @classmethod
    def parse(cls, text: str) -> Registry:
        host, _, namespace = text.strip().strip("/").partition("/")
        if not _HOST.match(host) or ("." not in host and ":" not in host and host != "localhost"):
            raise RegistryError(f"--registry {text!r}: expected HOST[:PORT]/NAMESPACE, e.g. "
                                "ghcr.io/acme or 127.0.0.1:5000/acme")
        if namespace and not _PATH.match(namespace):
            raise RegistryError(f"--registry {text!r}: the namespace {namespace!r} must be lowercase "
                                "letters, digits and separators (. _ __ -), parts joined by /")
        return cls(host, namespace)

    def __str__(self) -> str:
        return f"{self.host}/{self.namespace}" if self.namespace else self.host

    @property
    def base_url(self) -> str:
        name = self.host.rsplit(":", 1)[0] if self.host.count(":") == 1 else self.host
        plain = name == "localhost" or name.startswith("127.")
        return f"{'http' if plain else 'https'}://{self.host}"

    def repository(self, local_repository: str) -> str:
        """The repository path in the registry (no host) for a local repository name."""
        local = local_repository.split("/", 1)[1] if _has_registry(local_repository) else local_repository
        return f"{self.namespace}/{local}" if self.namespace else local


@dataclass(frozen=True)
class PushedImage:
    """What publishing one image did; ``reference`` is what a row names."""

    source: str  # the local image (name or id) that was pushed
    reference: str  # HOST/NAMESPACE/REPO@sha256:...
    digest: str
    size_bytes: int  # the image's size in the local engine
    layers_pushed: int = 0
    layers_existing: int = 0
    bytes_pushed: int = 0
    skipped: bool = False  # the registry had the manifest: nothing was sent
    seconds: float = 0.0


def _has_registry(name: str) -> bool:
    first = name.split("/", 1)[0]
    return "/" in name and ("." in first or ":" in first or first == "localhost")


def split_reference(reference: str) -> tuple[str, str, str]:
    """``HOST/REPO@sha256:..`` or ``HOST/REPO:TAG`` -> (host, repository, digest-or-tag)."""
    host, _, rest = reference.partition("/")
    if "@" in rest:
        repo, _, ref = rest.partition("@")
    else:
        repo, _, ref = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    return host, repo, ref


def _request(url: str, method: str, registry: Registry, accept: str | None = None) -> tuple[int, dict[str, str]]:
    """One request to the registry API, answering a Bearer challenge once; (status, headers)."""
    status, headers, _ = call_registry(url, method, registry, accept)
    return status, headers


def call_registry(url: str, method: str, registry: Registry, accept: str | None = None,
          data: bytes | None = None, content_type: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request to the registry API (``_request``) with a body sent and the answer's body read; (status, headers, body)."""
    headers = {"Accept": accept} if accept else {}
    if content_type:
        headers["Content-Type"] = content_type
    creds = credentials()
    if creds:
        basic = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    for _ in range(2):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers),
                                        timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            challenge = exc.headers.get("WWW-Authenticate", "")
            if exc.code == 401 and challenge.startswith("Bearer ") and "Bearer" not in headers.get("Authorization", ""):
                headers["Authorization"] = "Bearer " + _bearer_token(challenge, headers.get("Authorization"))
                continue
            return exc.code, dict(exc.headers), exc.read() or b""
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"registry {registry.host} does not answer at {registry.base_url} "
                                f"({redact(str(reason))}); start it or check --registry") from None
    return 401, {}, b""


def _bearer_token(challenge: str, basic: str | None) -> str:
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    query = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in fields.items() if k in ("service", "scope"))
    request = urllib.request.Request(f"{fields.get('realm', '')}?{query}",
                                     headers={"Authorization": basic} if basic else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        raise RegistryError("the registry's token service refused the credentials "
                            f"(set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE})") from None
    return str(data.get("token") or data.get("access_token") or "")


def manifest_digest(registry: Registry, repository: str, reference: str) -> str | None:
    """The digest of the manifest ``repository:reference`` (a tag or a digest), or None if absent."""
    status, headers = _request(f"{registry.base_url}/v2/{repository}/manifests/{reference}", "HEAD",
                               registry, MANIFEST_TYPES)
    if status == 200:
        return headers.get("Docker-Content-Digest") or (reference if reference.startswith("sha256:") else None)
    if status in (401, 403):
        raise RegistryError(f"registry {registry.host} refused access to {repository} ({status}); "
                            f"set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}")
    return None


def _get_json(url: str, registry: Registry, accept: str) -> tuple[Any, str | None]:
    """GET a JSON document from the registry API; (document or None, Docker-Content-Digest)."""
    headers = {"Accept": accept}
    creds = credentials()
    if creds:
        basic = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return json.loads(response.read()), response.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError:
        return None, None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RegistryError(f"registry {registry.host} does not answer at {registry.base_url} "
                            f"({redact(str(getattr(exc, 'reason', exc)))})") from None


def registry_copy(registry: Registry, local_repository: str, tag: str, image_id: str) -> tuple[str, int] | None:
    """``(HOST/REPO@sha256:.., compressed size)`` when the registry holds, under ``tag``, the very
    image whose local id is ``image_id`` (a manifest's config digest is the image id), else None.

    This lets a build whose local images were removed after an earlier publish be published again.
    """
    repository = registry.repository(local_repository)
    manifest, digest = _get_json(f"{registry.base_url}/v2/{repository}/manifests/{tag}", registry,
                                 "application/vnd.docker.distribution.manifest.v2+json, "
                                 "application/vnd.oci.image.manifest.v1+json")
    if not isinstance(manifest, dict) or (manifest.get("config") or {}).get("digest") != image_id or not digest:
        return None
    size = sum(int(layer.get("size") or 0) for layer in manifest.get("layers") or [])
    return f"{registry.host}/{repository}@{digest}", size


def check_registry(registry: Registry) -> None:
    """Raises RegistryError unless the registry answers its API's version check."""
    status, _ = _request(f"{registry.base_url}/v2/", "GET", registry)
    if status in (401, 403):
        given = credentials() is not None
        raise RegistryError(f"registry {registry.host} " + (
            f"refused the credentials in {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}" if given else
            f"asks for credentials: set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}"))
    if status != 200:
        raise RegistryError(f"{registry.base_url}/v2/ answered {status}: not a registry (distribution v2)")


def existing_reference(registry: Registry, reference: str) -> str | None:
    """``reference`` (``HOST/REPO@sha256:..``) if that registry holds it, else None."""
    host, repo, digest = split_reference(reference)
    if host != registry.host or not digest.startswith("sha256:"):
        return None
    return reference if manifest_digest(registry, repo, digest) else None


def push_image(client: Any, image: str, registry: Registry, repository: str, tag: str,
               echo: Callable[[str], None] = lambda _: None) -> PushedImage:
    """Pushes the local ``image`` (name or id) as ``registry/repository:tag``; see the module doc."""
    import docker

    start = time.monotonic()
    local = client.images.get(image)
    target_repo = registry.repository(repository)
    target = f"{registry.host}/{target_repo}"
    size = int(local.attrs.get("Size") or 0)
    copy = registry_copy(registry, repository, tag, local.id)
    if copy is not None:  # the registry holds this very image under the tag: nothing to send
        digest = copy[0].partition("@")[2]
        return PushedImage(image, copy[0], digest, size, skipped=True, seconds=time.monotonic() - start)
    local.tag(target, tag)
    pushed: dict[str, int] = {}
    existing: set[str] = set()
    totals: dict[str, int] = {}
    digest = ""
    try:
        stream = client.images.push(target, tag=tag, stream=True, decode=True, auth_config=credentials())
        for event in stream:
            if event.get("error"):
                hint = (f" (check {USERNAME_VARIABLE} and {PASSWORD_VARIABLE})"
                        if "unauthorized" in str(event["error"]).lower() else "")
                raise RegistryError(f"pushing {image} to {target}:{tag} failed: "
                                    f"{redact(str(event['error']))}{hint}")
            layer, status = event.get("id", ""), event.get("status", "")
            total = (event.get("progressDetail") or {}).get("total")
            if total:
                totals[layer] = int(total)
            if status == "Pushed":
                pushed[layer] = totals.get(layer, 0)
            elif status.startswith(("Layer already exists", "Mounted from")):
                existing.add(layer)
            aux = event.get("aux") or {}
            digest = aux.get("Digest", digest)
    except docker.errors.APIError as exc:
        raise RegistryError(f"pushing {image} to {target}:{tag} failed: {redact(str(exc))}") from None
    if not digest:
        digest = manifest_digest(registry, target_repo, tag) or ""
    if not digest.startswith("sha256:"):
        raise RegistryError(f"pushing {image} to {target}:{tag}: the registry reported no digest")
    _untag(client, local.id, f"{target}:{tag}", f"{target}@{digest}")
    echo(f"pushed {image} as {target}@{digest[:19]}... ({len(pushed)} layer(s) sent, "
         f"{len(existing)} already there)")
    return PushedImage(image, f"{target}@{digest}", digest, size, len(pushed), len(existing),
                       sum(pushed.values()), False, time.monotonic() - start)


def _untag(client: Any, image_id: str, *references: str) -> None:
    """Removes the references a push added, when the image keeps a name of its own: the engine
    is left as it was (no registry names holding images that `swegc images rm` removed)."""
    import docker

    own = [t for t in client.images.get(image_id).tags if t not in references]
    if not own:
        return  # our tag is its only name now (its own tag moved): keep it rather than lose it
    for reference in references:
        try:
            client.images.remove(reference, noprune=True)
        except docker.errors.APIError:
            pass
