"""A running container of an instance image, in which commands run with a time limit."""

from __future__ import annotations

import io
import shlex
import tarfile
import time
from dataclasses import dataclass
from typing import Any

from swegc.runtime.docker_client import LABEL, docker_client
from swegc.runtime.orphans import container_name

TIMEOUT_EXIT = 124  # coreutils `timeout` exit code; also what a timed-out command reports


class InfrastructureError(Exception):
    """The engine or the container failed (not the code under test); worth a retry."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str
    duration_s: float

    @property
    def timed_out(self) -> bool:
        return self.exit_code in (TIMEOUT_EXIT, 137)


class Sandbox:
    """``with Sandbox(image) as box: box.run("pytest")``; the container is removed on exit."""

    def __init__(self, image: str, *, network: bool = False, env: dict[str, str] | None = None,
                 workdir: str = "/testbed", labels: dict[str, str] | None = None):
        self.image = image
        self.network = network
        self.env = dict(env or {})
        self.workdir = workdir
        self.labels = {f"{LABEL}.sandbox": "1", **(labels or {})}
        self.container: Any = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        import docker

        try:
            self.container = docker_client().containers.run(
                self.image, ["sleep", "infinity"], detach=True, init=True,
                network_mode="bridge" if self.network else "none",
                environment=self.env, working_dir=self.workdir, labels=self.labels,
                name=container_name("run"))
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"cannot start a container of {self.image}: {exc}") from exc

    def run(self, command: str, timeout_s: int = 600) -> ExecResult:
        """Run ``command`` with bash in the working folder; output is stdout and stderr merged."""
        import docker

        wrapped = f"timeout -k 10 {int(timeout_s)} bash -c {shlex.quote(command)}"
        start = time.monotonic()
        try:
            exit_code, output = self.container.exec_run(["bash", "-c", wrapped],
                                                        workdir=self.workdir, demux=False)
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"exec failed in {self.image}: {exc}") from exc
        duration = time.monotonic() - start
        if exit_code == 137 and self._oom_killed():
            raise InfrastructureError(f"out of memory in {self.image}")
        text = (output or b"").decode("utf-8", errors="replace")
        return ExecResult(int(exit_code if exit_code is not None else -1), text, duration)

    def put_file(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` inside the container, making folders below its top one.

        The archive is extracted in the path's top folder (``/tmp`` for ``/tmp/a/b``), which
        must exist, so that no existing folder (``/tmp`` itself) gets its mode rewritten.
        """
        top, *parts = path.strip("/").split("/")
        if not parts:
            raise ValueError(f"put_file needs a path below a top folder, not {path!r}")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for depth in range(1, len(parts)):
                folder = tarfile.TarInfo("/".join(parts[:depth]))
                folder.type, folder.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(folder)
            info = tarfile.TarInfo("/".join(parts))
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
        try:
            ok = self.container.put_archive(f"/{top}", buffer.getvalue())
        except Exception as exc:  # noqa: BLE001 - any engine failure is infrastructure
            raise InfrastructureError(f"could not copy {path} into the container: {exc}") from exc
        if not ok:
            raise InfrastructureError(f"could not copy {path} into the container")

    def _oom_killed(self) -> bool:
        try:
            self.container.reload()
            return bool(self.container.attrs["State"].get("OOMKilled"))
        except Exception:  # noqa: BLE001 - a dead container reads as "not known"
            return False

    def close(self) -> None:
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
            self.container = None
