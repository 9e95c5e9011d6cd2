"""Helpers for the agent tests: a small committed repository at /testbed in an image."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time

BASE_IMAGE = "swegc-base:bookworm"
GIT_IDENTITY = ("-c user.name=Test -c user.email=test@example.com "
                "-c commit.gpgsign=false")

REPO_FILES = {
    "calc/__init__.py": "",
    "calc/ops.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "README.md": "# calc\n\nA tiny calculator.\n",
    "run.sh": "#!/bin/sh\necho run\n",
}


def repo_image(client, files: dict[str, str] | None = None) -> str:
    """An image of the base with ``files`` committed in a git repository at /testbed (cached by content)."""
    files = REPO_FILES if files is None else files
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
    name = f"swegc-test/agent-repo:{digest}"
    try:
        client.images.get(name)
        return name
    except Exception:  # noqa: BLE001 - not built yet
        pass
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"testbed/{path}")
            info.size, info.mtime = len(data), int(time.time())
            info.mode = 0o755 if path.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    container = client.containers.run(BASE_IMAGE, ["sleep", "infinity"], detach=True,
                                      network_mode="none")
    try:
        container.put_archive("/", buffer.getvalue())
        code, out = container.exec_run(
            ["bash", "-c", f"cd /testbed && git init -q -b main && git add -A && "
                           f"git {GIT_IDENTITY} commit -q -m init"])
        assert code == 0, out
        repository, tag = name.split(":")
        container.commit(repository=repository, tag=tag, conf={"WorkingDir": "/testbed"})
    finally:
        container.remove(force=True)
    return name
