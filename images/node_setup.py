"""Puts Node and npm into an env image; runs inside the build container (see ``node.py``).

Node's own download site is often out of reach where package registries are not, so both come
from the npm registry: Node as the official Linux build repackaged as ``node-linux-<arch>``
(what ``npm install node`` installs), npm as the ``npm`` package. A version prefix ("18",
"18.20") takes the newest release it matches; npm, when not given, is the newest release whose
``engines.node`` accepts that Node. Every tarball is checked against the registry's sha512
before use and kept in the build's package cache (mounted, never in a layer), so it is
downloaded once per machine.

Standalone on purpose: the image's own ``python3`` (3.8 or newer) runs it, with nothing but the
standard library.

    python3 node_setup.py REGISTRY PREFIX CACHE NODE_VERSION [NPM_VERSION]
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import re
import shutil
import ssl
import sys
import tarfile
import tempfile
import urllib.request

ARCHES = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def fail(message: str) -> None:
    print(f"swegc: node: {message}", file=sys.stderr)
    sys.exit(3)


def parse(version: str) -> tuple[int, int, int] | None:
    """A plain release version (no prerelease or build tag); None for anything else."""
    match = _VERSION.match(version.strip())
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


# -- npm's range syntax, as much of it as engines fields use ---------------------------------

def _partial(text: str) -> tuple[int, ...]:
    """"18" -> (18,), "18.17" -> (18, 17), "18.x" -> (18,), "*" -> ()."""
    parts = []
    for part in text.lstrip("v=").split("."):
        if part in ("x", "X", "*", ""):
            break
        parts.append(int(part))
    return tuple(parts[:3])


def _comparators(token: str) -> list[tuple[str, tuple[int, int, int]]]:
    """One range token as (operator, version) pairs that must all hold."""
    op = re.match(r"^(\^|~>?|>=|<=|>|<|=)?", token).group(0)
    parts = _partial(token[len(op):])
    low = parts + (0,) * (3 - len(parts))
    if op in (">", ">=", "<", "<="):
        if len(parts) < 3 and op == ">":  # >1.2 means >=1.3.0
            return [(">=", _bump(parts))] if parts else [("<", (0, 0, 0))]
        if len(parts) < 3 and op == "<=":  # <=1.2 means <1.3.0
            return [("<", _bump(parts))] if parts else []
        return [(op, low)]
    if op == "^":
        first = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
        return [(">=", low), ("<", _bump(parts[:max(first, 0) + 1]))] if parts else []
    if op.startswith("~"):
        return [(">=", low), ("<", _bump(parts[:2] if len(parts) > 1 else parts))] if parts else []
    if len(parts) == 3:
        return [("=", low)]
    return [(">=", low), ("<", _bump(parts))] if parts else []


def _bump(parts: tuple[int, ...]) -> tuple[int, int, int]:
    bumped = parts[:-1] + (parts[-1] + 1,)
    return bumped + (0,) * (3 - len(bumped))  # type: ignore[return-value]


def satisfies(version: tuple[int, int, int], spec: str) -> bool:
    """Whether ``version`` is in an npm range such as "^14.17.0 || ^16.13.0 || >=18.0.0"."""
    checks = {"=": version.__eq__, ">=": version.__ge__, ">": version.__gt__,
              "<=": version.__le__, "<": version.__lt__}
    for alternative in spec.split("||"):
        text = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", alternative.strip())
        hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
        tokens = [">=" + hyphen.group(1), "<=" + hyphen.group(2)] if hyphen else text.split()
        try:
            pairs = [pair for token in tokens for pair in _comparators(token)]
        except (ValueError, AttributeError):
            continue
        if all(checks[op](bound) for op, bound in pairs):
            return True
    return False


# -- the registry ----------------------------------------------------------------------------

def _context() -> ssl.SSLContext:
    cafile = os.environ.get("npm_config_cafile") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=cafile if cafile and os.path.isfile(cafile) else None)


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120, context=_context()) as response:
            return response.read()
    except OSError as exc:
        fail(f"cannot read {url}: {exc} (set build.npm_registry to a registry this machine "
             "reaches)")
        raise


def packument(registry: str, name: str) -> dict:
    return json.loads(fetch(f"{registry.rstrip('/')}/{name}"))


def newest(doc: dict, prefix: str, accept=lambda meta: True) -> tuple[str, dict]:
    """The newest plain release whose version starts with ``prefix`` (whole parts)."""
    want = tuple(int(p) for p in prefix.split(".")) if prefix else ()
    found = []
    for version, meta in doc.get("versions", {}).items():
        parsed = parse(version)
        if parsed and parsed[:len(want)] == want and accept(meta):
            found.append((parsed, version, meta))
    if not found:
        fail(f"no release of {doc.get('name')} matches {prefix!r} in the registry")
    _, version, meta = max(found)
    return version, meta


def tarball(meta: dict, cache: str) -> str:
    """The release's tarball in the cache, downloaded and checked against its sha512 if not."""
    dist = meta["dist"]
    path = os.path.join(cache, os.path.basename(dist["tarball"]))
    algorithm, _, expected = dist.get("integrity", "").partition("-")
    def good(file: str) -> bool:
        if algorithm != "sha512":
            return os.path.exists(file) and dist.get("shasum") == _digest(file, "sha1").hex()
        return os.path.exists(file) and \
            base64.b64encode(_digest(file, "sha512")).decode() == expected
    if good(path):
        return path
    os.makedirs(cache, exist_ok=True)
    part = f"{path}.{os.getpid()}.part"
    with open(part, "wb") as out:
        out.write(fetch(dist["tarball"]))
    if not good(part):
        os.unlink(part)
        fail(f"{dist['tarball']} does not match the registry's checksum")
    os.replace(part, path)
    return path


def _digest(path: str, algorithm: str) -> bytes:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def unpack(path: str, dest: str) -> None:
    """A package tarball's ``package/`` folder into ``dest``."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(path) as archive:
            archive.extractall(tmp)  # noqa: S202 - a checksum-verified registry tarball
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copytree(os.path.join(tmp, "package"), dest, symlinks=True,
                        dirs_exist_ok=True)


def main(argv: list[str]) -> None:
    registry, prefix, cache, node_version = argv[:4]
    npm_version = argv[4] if len(argv) > 4 else ""
    if any(os.path.exists(p) for p in ("/lib/ld-musl-x86_64.so.1", "/lib/ld-musl-aarch64.so.1")):
        fail("Node's Linux builds need glibc, and this base image uses musl")
    arch = ARCHES.get(platform.machine())
    if arch is None:
        fail(f"no Node build for this machine ({platform.machine()})")
    node, node_meta = newest(packument(registry, f"node-linux-{arch}"), node_version)
    unpack(tarball(node_meta, cache), prefix)
    os.chmod(os.path.join(prefix, "bin", "node"), 0o755)
    parsed = parse(node)
    npm_doc = packument(registry, "npm")
    if npm_version:
        npm, npm_meta = newest(npm_doc, npm_version)
    else:
        npm, npm_meta = newest(npm_doc, "", lambda meta: satisfies(
            parsed, (meta.get("engines") or {}).get("node", "*")))
    npm_dir = os.path.join(prefix, "lib", "node_modules", "npm")
    shutil.rmtree(npm_dir, ignore_errors=True)
    unpack(tarball(npm_meta, cache), npm_dir)
    for tool in ("npm", "npx"):
        link = os.path.join(prefix, "bin", tool)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(f"../lib/node_modules/npm/bin/{tool}-cli.js", link)
    engines = (npm_meta.get("engines") or {}).get("node")
    if engines and not satisfies(parsed, engines):
        print(f"swegc: node: warning: npm {npm} asks for Node {engines}, not {node}",
              file=sys.stderr)
    print(f"node {node} and npm {npm} from {registry}")


if __name__ == "__main__":
    main(sys.argv[1:])
