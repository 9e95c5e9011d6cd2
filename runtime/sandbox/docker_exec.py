"""A sandbox that runs each command with a `docker exec` (about 95 ms a call under load).

The baseline ``benchmarks/sandbox_bench.py`` measures the persistent shell against; kept for
callers written against ``run``/``put_file``. No limits but the network; output is not capped.
"""

from __future__ import annotations

import io
import shlex
import tarfile
import time
from typing import Any

from swegc.docker_client import LABEL, docker_client
from swegc.runtime.sandbox.cpu import container_cpu_seconds
from swegc.runtime.sandbox.orphans import container_name
from swegc.runtime.sandbox import ExecResult, InfrastructureError


class DockerExecSandbox:
    """``with DockerExecSandbox(image) as box: box.run("pytest")``; the container is removed on exit."""

    def __init__(self, image: str, *, network: bool = False, env: dict[str, str] | None = None,
                 workdir: str = "/testbed", labels: dict[str, str] | None = None):
        self.image = image
        self.network = network
        self.env = dict(env or {})
        self.workdir = workdir
        self.labels = {f"{LABEL}.sandbox": "1", **(labels or {})}
        self.container: Any = None
        self.cpu_s: float | None = None  # the container's CPU seconds, read as it is removed

    def __enter__(self) -> DockerExecSandbox:
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

    def run(self, command: str, timeout_s: int = 600, *, workdir: str | None = None,
            env: dict[str, str] | None = None) -> ExecResult:
        """Run ``command`` with bash in the working folder; output is stdout and stderr merged."""
        import docker

        wrapped = f"timeout -k 10 {int(timeout_s)} bash -c {shlex.quote(command)}"
        start = time.monotonic()
        try:
            exit_code, output = self.container.exec_run(["bash", "-c", wrapped],
                                                        workdir=workdir or self.workdir,
                                                        environment=env or None, demux=False)
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"exec failed in {self.image}: {exc}") from exc
        duration = time.monotonic() - start
        if exit_code == 137 and self._oom_killed():
            raise InfrastructureError(f"out of memory in {self.image}")
        text = (output or b"").decode("utf-8", errors="replace")
        return ExecResult(int(exit_code if exit_code is not None else -1), text, duration)

    def execute(self, command: str, timeout_s: float = 600, cwd: str | None = None,
                env: dict[str, str] | None = None) -> ExecResult:
        return self.run(command, timeout_s=max(1, int(timeout_s)), workdir=cwd, env=env)

    def read_file(self, path: str) -> bytes:
        stream, _ = self.container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            handle = tar.extractfile(member) if member else None
            if handle is None:
                raise FileNotFoundError(path)
            return handle.read()

    def write_file(self, path: str, data: bytes) -> None:
        self.put_file(path, data)

    def diff(self) -> str:
        result = self.run("git add -A && git diff --cached --binary HEAD", timeout_s=120)
        return result.output

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
            self.cpu_s = container_cpu_seconds(self.container)
            try:
                self.container.remove(force=True)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
            self.container = None
