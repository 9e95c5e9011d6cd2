"""Local base images: a minimal Debian made with debootstrap, for machines without Docker Hub.

Debian's own python3 decides the interpreter: bullseye has 3.9, bookworm 3.11, trixie 3.13.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from swegc.errors import SwegcError
from swegc.naming import DEBIAN_SUITES, DEFAULT_BASE_IMAGES
from swegc.docker_client import LABEL, docker_client, image_exists

PACKAGES = "python3,python3-venv,python3-pip,git,ca-certificates"


def build_base_image(python: str, *, mirror: str | None = None, force: bool = False,
                     echo=print) -> str:
    """Build (or find) the base image for ``python``; returns its name."""
    if python not in DEBIAN_SUITES:
        raise SwegcError(f"no built-in base image for Python {python}: choose one of "
                         f"{', '.join(DEBIAN_SUITES)} or set environments[].base_image")
    suite = DEBIAN_SUITES[python]
    name = DEFAULT_BASE_IMAGES[python]
    client = docker_client()
    if not force and image_exists(client, name) is not None:
        echo(f"{name} already exists")
        return name
    if shutil.which("debootstrap") is None:
        raise SwegcError("debootstrap is not installed (as root: apt-get install debootstrap)")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="swegc-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", suite, str(root)]
        if mirror:
            cmd.append(mirror)
        echo(f"debootstrap {suite} (Python {python}) ...")
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise SwegcError(f"debootstrap {suite} failed (exit {result.returncode}):\n{tail}")
        # Drop the apt lists and caches debootstrap leaves: they are only dead weight in a base.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (root / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        changes = [f'LABEL {LABEL}.kind=base {LABEL}.python={python} {LABEL}.suite={suite}',
                   'ENV LANG=C.UTF-8', 'CMD ["bash"]']
        args = ["docker", "import"]
        for change in changes:
            args += ["--change", change]
        imported = subprocess.run([*args, "-", name], stdin=tar.stdout, capture_output=True,
                                  text=True)
        tar.wait()
        if imported.returncode != 0:
            raise SwegcError(f"docker import of {name} failed: {imported.stderr.strip()}")
    echo(f"built {name} in {time.monotonic() - start:.0f}s")
    return name
