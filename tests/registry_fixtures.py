"""A real image registry for tests: Debian's ``docker-registry`` (distribution v2) on 127.0.0.1.

dockerd treats registries on 127.0.0.0/8 as insecure-allowed, so plain http works and no
certificate is needed. Storage is a temporary folder, deletes are enabled.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CONFIG = """version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""
AUTH = """auth:
  htpasswd:
    realm: swegc-test
    path: {path}
"""


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or next(
        (p for p in ("/usr/bin/docker-registry", "/usr/sbin/docker-registry") if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def htpasswd_line(user: str, password: str) -> str | None:
    """A bcrypt htpasswd entry (the only kind the registry reads), or None where crypt has no bcrypt."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            return None
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    return f"{user}:{hashed}\n" if hashed and hashed.startswith("$2") else None


@contextmanager
def running_registry(folder: Path, auth: tuple[str, str] | None = None) -> Iterator[str]:
    """Starts a registry storing under ``folder`` (with basic auth for ``auth`` = (user,
    password)); yields ``127.0.0.1:PORT``."""
    binary = registry_binary()
    assert binary, "docker-registry is not installed (apt-get install docker-registry)"
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yml"
    text = CONFIG.format(root=folder / "storage", port=port)
    if auth is not None:
        line = htpasswd_line(*auth)
        assert line, "no bcrypt in this Python's crypt module"
        (folder / "htpasswd").write_text(line)
        text += AUTH.format(path=folder / "htpasswd")
    config.write_text(text)
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                    break
            except urllib.error.HTTPError:  # 401: up, and asking for credentials
                break
            except OSError:
                if process.poll() is not None:
                    raise AssertionError("docker-registry exited: " + (folder / "registry.log").read_text())
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
