"""A sandbox with one long-lived bash per container, reached over Docker's attach stream.

A command is one line written to the shell's stdin and read back up to its sentinel (see
``shell_protocol``): no ``docker exec`` per call, so a tool call costs a few milliseconds
instead of about a hundred, and the working folder and exported variables persist between calls.

Limits (``SandboxLimits``): no network unless ``network``; ``cpus`` (CFS quota), ``memory``
(memory and memory+swap, so no swap), ``pids``. The disk limit is enforced two ways:

- ``--storage-opt size=`` where the engine supports it (overlay2 on xfs with pquota): the
  kernel refuses writes past the limit. Tried once per process; engines that refuse it
  (overlay2 on ext4, as here) fall back to:
- watching the writable layer (``SizeRw`` of ``GET /containers/{id}/json?size=1``, about 10 ms)
  at most every ``disk_check_s`` seconds while a command runs and when one ends; a sandbox
  found over the limit is removed and the call raises ``SandboxGone``. A single file can never
  pass the limit (RLIMIT_FSIZE is set to it, the writer gets SIGXFSZ); many files can pass it
  by what the command writes in ``disk_check_s`` before the check sees it.

A command that goes past its timeout has its process group killed by a watchdog inside the
shell (exit 124); a shell that does not answer ``GRACE_S`` after that, a shell that died
(``kill $$``, the OOM killer) and a command that made the OOM killer act all end the sandbox
with ``SandboxGone``: the container is removed and ``close`` is still safe to call.

A *guarded* sandbox (``guard=True``: an agent's, in a rollout or the RL environment) also ends
with ``SandboxGone`` when a command reaches the pids limit (the watchdog kills it within
``WATCH_SLICE_S`` of the first refused fork instead of at its timeout: a fork bomb ends in about
a second, not 180) or leaves the sandbox unable to serve: the shell's state folder or a core tool
gone, as after ``rm -rf /``. A bomb an earlier command left running in a session of its own ends
it at the next call, which then does not run. The fork failures are read from the container's
``pids.events`` (cgroup v1 or v2 with its own cgroup namespace, Docker's default); an engine
that does not show it leaves a fork bomb to its timeout. Test runs (validation, grading, image
builds) are not guarded: there a command that hits the pids limit only has its forks fail.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import select
import shlex
import tarfile
import threading
import time
from typing import Any

from swegc.docker_client import LABEL, docker_client
from swegc.runtime.sandbox.cpu import container_cpu_seconds
from swegc.runtime.sandbox.orphans import container_name
from swegc.runtime.sandbox import (ExecResult, InfrastructureError, SandboxGone,
                                   SandboxLimits, parse_size)
from swegc.runtime.sandbox.shell_protocol import (INIT, STATE, FrameReader, OutputCollector,
                                                  Status, run_line)

GRACE_S = 15.0  # how long past a command's timeout the shell may take to report it
# Files move through the shell (one round trip of a few ms) up to these sizes, else through the
# engine's archive endpoints (tens of ms each): reads stream out fast, but bash reads its own
# input a byte at a time, so a large write is cheaper as an archive.
SHELL_READ_BYTES = 4 * 1024 * 1024
SHELL_WRITE_BYTES = 48 * 1024
START_TIMEOUT_S = 60.0
_storage_opt_works: bool | None = None  # learnt from the engine once per process


class DockerShellSandbox:
    """``with DockerShellSandbox(image, limits) as box: box.execute("cd src && ls")``."""

    def __init__(self, image: str, limits: SandboxLimits | None = None, *,
                 workdir: str = "/testbed", labels: dict[str, str] | None = None,
                 mounts: list[Any] | None = None, init: bool = True, role: str = "sandbox",
                 disk_check_s: float = 2.0, guard: bool = False):
        """``mounts``: ``docker.types.Mount`` objects (image builds bind their inputs); ``init``:
        run a tiny init as PID 1 that reaps orphans (off for containers that will be committed:
        its mount point would land in the image); ``role``: the container name's role part;
        ``guard``: an agent's sandbox, ended (``SandboxGone``) by a command that hits the pids
        limit (killed within ``WATCH_SLICE_S``) or leaves it unable to serve (see ``execute``)."""
        self.image = image
        self.mounts = list(mounts or [])
        self.init = init
        self.role = role
        self.limits = limits or SandboxLimits()
        self.workdir = workdir
        # `docker commit` copies a container's labels into the image, so a container meant to be
        # committed (role "build") carries only the labels its caller gives
        own = {f"{LABEL}.sandbox": "1"} if role == "sandbox" else {}
        self.labels = {**own, **(labels or {})}
        self.disk_check_s = disk_check_s
        self.guard = guard
        self.disk_bytes = parse_size(self.limits.disk)
        self.disk_enforced_by_engine = False
        self.container: Any = None
        # CPU seconds the container's processes used, read as it is removed (None: not known)
        self.cpu_s: float | None = None
        self._sock: Any = None
        self._frames = FrameReader()
        self._gone: str | None = None
        self._last_disk_check = 0.0
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> DockerShellSandbox:
        if self.container is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the container and its shell; returns once the shell answered."""
        import docker

        global _storage_opt_works
        client = docker_client()
        limits = self.limits
        options: dict[str, Any] = dict(
            command=["bash", "--noprofile", "--norc"], stdin_open=True, tty=False, detach=True,
            init=self.init, network_mode="bridge" if limits.network else "none",
            environment=dict(limits.env), working_dir=self.workdir, labels=self.labels,
            mounts=self.mounts)
        if limits.cpus is not None:
            options["nano_cpus"] = int(limits.cpus * 1e9)
        if limits.memory is not None:
            options["mem_limit"] = options["memswap_limit"] = limits.memory
        if limits.pids is not None:
            options["pids_limit"] = limits.pids
        if self.disk_bytes is not None:
            options["ulimits"] = [docker.types.Ulimit(name="fsize", soft=self.disk_bytes,
                                                      hard=self.disk_bytes)]
        try:
            if _storage_opt_works is not False and self.disk_bytes is not None:
                try:
                    self.container = client.containers.create(
                        self.image, name=container_name(self.role),
                        storage_opt={"size": str(self.disk_bytes)}, **options)
                    _storage_opt_works = self.disk_enforced_by_engine = True
                except docker.errors.APIError as exc:
                    if "storage-opt" not in str(exc) and "quota" not in str(exc):
                        raise
                    _storage_opt_works = False
            if self.container is None:
                self.container = client.containers.create(
                    self.image, name=container_name(self.role), **options)
            self.container.start()
            sock = client.api.attach_socket(
                self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        except docker.errors.APIError as exc:
            self.close()
            raise InfrastructureError(f"cannot start a sandbox of {self.image}: {exc}") from exc
        self._sock = getattr(sock, "_sock", sock)
        self._sock.setblocking(True)
        token = secrets.token_hex(16)
        self._send(INIT.encode() + f"printf '\\n%s:0:0\\n' {token}\n".encode())
        self._read_until(OutputCollector(token, 4096), time.monotonic() + START_TIMEOUT_S)

    def close(self) -> None:
        """Remove the container, reading its CPU time first (``cpu_s``); safe to call twice and
        after the sandbox is gone."""
        if self.container is not None:
            self.cpu_s = container_cpu_seconds(self.container)
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
            self.container = None
        if self._gone is None:
            self._gone = "closed"

    # -- commands --------------------------------------------------------------------------
    def execute(self, command: str, timeout_s: float = 600, cwd: str | None = None,
                env: dict[str, str] | None = None) -> ExecResult:
        """Run ``command`` in the shell (stdin /dev/null, stderr merged into stdout).

        The shell's folder and exported variables carry over to the next call, except when
        ``cwd`` is given (the command runs there, the shell stays where it was); ``env`` holds
        for this call only. Past ``timeout_s`` the command's process group is killed and the
        result has exit code 124. Raises ``SandboxGone`` when the sandbox ended under it, and in a
        guarded sandbox when the command hit the pids limit or removed the shell's state or a
        core tool (the checks are builtins in the shell: microseconds a call).
        """
        return self._execute(command, timeout_s, cwd, env, self.limits.output_bytes)

    def _execute(self, command: str, timeout_s: float, cwd: str | None,
                 env: dict[str, str] | None, cap: int) -> ExecResult:
        with self._lock:
            if self._gone is not None:
                raise SandboxGone(f"sandbox of {self.image} is gone ({self._gone})")
            token = secrets.token_hex(16)
            collector = OutputCollector(token, cap)
            self._drain()
            start = time.monotonic()
            self._send(run_line(token, command, timeout_s, cwd, env, guard=self.guard))
            self._read_until(collector, start + timeout_s + GRACE_S)
            duration = time.monotonic() - start
            status = collector.status
            assert status is not None
            if status.oom_kills > 0:
                self._end(f"out of memory: the command went past memory={self.limits.memory} "
                          f"(exit {status.exit_code})")
            if self.guard:
                self._check_health(status, duration)
            self._check_disk(force=False)
            return ExecResult(status.exit_code, collector.text(), duration, collector.truncated)

    def _check_health(self, status: Status, duration: float) -> None:
        """End a guarded sandbox that the command left unable to serve an agent."""
        if status.broken == "pids":
            self._end(f"a process an earlier command left running reached the process limit "
                      f"(pids={self.limits.pids}; {status.fork_failures} forks refused, as by a "
                      "fork bomb) before this command ran")
        if status.fork_failures > 0:
            self._end(f"the command reached the process limit (pids={self.limits.pids}; "
                      f"{status.fork_failures} forks refused, as by a fork bomb) and was killed "
                      f"after {duration:.1f} s")
        if status.broken == "state":
            self._end(f"the command removed the shell's own state folder (under {STATE} or "
                      "/tmp), as `rm -rf /` does: the sandbox can no longer serve")
        if status.broken:
            self._end(f"the command removed {status.broken}, a tool the sandbox runs on, as "
                      "`rm -rf /` does: the sandbox can no longer serve")

    def run(self, command: str, timeout_s: float = 600, *, workdir: str | None = None,
            env: dict[str, str] | None = None) -> ExecResult:
        """DockerExecSandbox's name for ``execute``, for callers written against it."""
        return self.execute(command, timeout_s=timeout_s, cwd=workdir, env=env)

    def commit(self, repository: str, tag: str, changes: list[str] | None = None) -> Any:
        """Save the sandbox's filesystem as image ``repository:tag`` (``docker commit``).

        The image's config is the container's less what only the sandbox needs (open stdin,
        its shell as command); the engine keeps the container's labels, so a sandbox meant to
        be committed is made with ``role="build"`` (no sandbox label). ``changes`` are
        Dockerfile lines (``ENV``, ``CMD``, ``LABEL``, ``WORKDIR``, ``STOPSIGNAL``) applied on
        top, as ``docker commit --change``; ``STOPSIGNAL``, which engines refuse as a change,
        goes into the config instead.
        Returns the docker SDK image.
        """
        self._require()
        self.container.reload()
        config = dict(self.container.attrs["Config"])
        config.update(OpenStdin=False, StdinOnce=False, AttachStdin=False, Cmd=None)
        kept = []
        for change in changes or []:
            if change.upper().startswith("STOPSIGNAL "):
                config["StopSignal"] = change.split(None, 1)[1].strip()
            else:
                kept.append(change)
        self.container.commit(repository=repository, tag=tag, changes=kept, conf=config)
        return docker_client().images.get(f"{repository}:{tag}")

    # -- files -----------------------------------------------------------------------------
    def _absolute(self, path: str) -> str:
        return path if path.startswith("/") else f"{self.workdir.rstrip('/')}/{path}"

    def read_file(self, path: str) -> bytes:
        """The file's bytes: through the shell (one round trip) when it is a regular file of up
        to ``SHELL_READ_BYTES``, else through the engine's archive endpoint."""
        import docker

        self._require()
        quoted = shlex.quote(self._absolute(path))
        result = self._execute(
            f"[ -e {quoted} ] || exit 2; [ -d {quoted} ] && exit 21; [ -f {quoted} ] && "
            f"[ \"$(stat -c %s {quoted})\" -le {SHELL_READ_BYTES} ] || exit 27; "
            f"base64 -w0 < {quoted}", 120, None, None, SHELL_READ_BYTES * 2)
        if result.exit_code == 0 and not result.truncated:
            return base64.b64decode(result.output)
        if result.exit_code == 2:
            raise FileNotFoundError(path)
        if result.exit_code == 21:
            raise IsADirectoryError(path)
        try:
            stream, _ = self.container.get_archive(self._absolute(path))
        except docker.errors.NotFound:
            raise FileNotFoundError(path) from None
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"could not read {path} from the sandbox: {exc}") from exc
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            if member is None or member.isdir():
                raise IsADirectoryError(path)
            handle = tar.extractfile(member)
            if handle is None:
                raise FileNotFoundError(path)
            return handle.read()

    def write_file(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path``, making missing folders; existing folders keep their modes.

        Up to ``SHELL_WRITE_BYTES`` the bytes go through the shell (one round trip; bash reads
        its input a byte at a time, so larger files go through the engine's archive endpoint).
        """
        self._require()
        path = os.path.normpath(self._absolute(path))
        folder, name = os.path.split(path)
        if not name:
            raise ValueError(f"write_file needs a file path, not {path!r}")
        if len(data) <= SHELL_WRITE_BYTES:
            encoded = base64.b64encode(data).decode("ascii")
            result = self._execute(
                f"mkdir -p -- {shlex.quote(folder)} && printf %s {encoded} | base64 -d > "
                f"{shlex.quote(path)}", 120, None, None, 4096)
            if result.exit_code == 0:
                return
        # the archive is extracted in the deepest folder that exists, so that no existing
        # folder is listed in it (tar would rewrite its mode)
        existing = folder
        made: list[str] = []
        while existing != "/" and not self._exists(existing):
            existing, part = os.path.split(existing)
            made.insert(0, part)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for depth in range(1, len(made) + 1):
                entry = tarfile.TarInfo("/".join(made[:depth]))
                entry.type, entry.mode, entry.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                tar.addfile(entry)
            info = tarfile.TarInfo("/".join([*made, name]))
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
        try:
            ok = self.container.put_archive(existing, buffer.getvalue())
        except Exception as exc:  # noqa: BLE001 - any engine failure is infrastructure
            raise InfrastructureError(f"could not write {path} into the sandbox: {exc}") from exc
        if not ok:
            raise InfrastructureError(f"could not write {path} into the sandbox")

    put_file = write_file  # DockerExecSandbox's name

    def _exists(self, path: str) -> bool:
        """Whether ``path`` exists in the container (a HEAD of its archive: no content moves)."""
        api = docker_client().api
        response = api.head(api._url("/containers/{0}/archive", self.container.id),
                            params={"path": path})
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise InfrastructureError(f"could not look up {path} in the sandbox "
                                      f"(HTTP {response.status_code})")
        return True

    def diff(self) -> str:
        """The change of ``workdir`` against HEAD as ``git diff --binary`` (new files included).

        Staged through a throw-away index, so the sandbox's own index is untouched; read back
        as a file, so the output cap does not cut it.
        """
        out = "/tmp/.swegc-diff.patch"
        script = (f"tmp=$(mktemp) && cp .git/index \"$tmp\" 2>/dev/null; "
                  f"GIT_INDEX_FILE=\"$tmp\" git add -A && "
                  f"GIT_INDEX_FILE=\"$tmp\" git diff --cached --binary HEAD > {out}; "
                  f"code=$?; rm -f \"$tmp\"; exit $code")
        result = self.execute(script, timeout_s=300, cwd=self.workdir)
        if result.exit_code != 0:
            raise InfrastructureError(f"git diff failed in {self.workdir}: {result.output[-2000:]}")
        patch = self.read_file(out)
        self.execute(f"rm -f {out}", timeout_s=60)
        return patch.decode("utf-8", errors="replace")

    # -- the stream ------------------------------------------------------------------------
    def _require(self) -> None:
        if self._gone is not None or self.container is None:
            raise SandboxGone(f"sandbox of {self.image} is gone ({self._gone})")

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except (OSError, AttributeError) as exc:
            self._end(f"the shell's stdin closed: {exc}")

    def _drain(self) -> None:
        """Drop what background jobs of earlier commands printed since."""
        while self._sock is not None and select.select([self._sock], [], [], 0)[0]:
            data = self._sock.recv(1 << 20)
            if not data:
                self._end(self._why_stopped())
            self._frames.feed(data)

    def _read_until(self, collector: OutputCollector, deadline: float) -> None:
        while True:
            now = time.monotonic()
            if now >= deadline:
                self._end(f"the shell did not answer within {GRACE_S:.0f} s after the timeout")
            wait = min(deadline - now, self.disk_check_s)
            ready = select.select([self._sock], [], [], wait)[0]
            if not ready:
                self._check_disk(force=False)
                continue
            try:
                data = self._sock.recv(1 << 20)
            except OSError as exc:
                self._end(f"the attach stream failed: {exc}")
            if not data:
                self._end(self._why_stopped())
            for stream, payload in self._frames.feed(data):
                if stream == 1 and collector.feed(payload):
                    return
            self._check_disk(force=False)

    def _check_disk(self, force: bool) -> None:
        if self.disk_enforced_by_engine or self.container is None or self.disk_bytes is None:
            return
        now = time.monotonic()
        if not force and now - self._last_disk_check < self.disk_check_s:
            return
        self._last_disk_check = now
        used = self.writable_bytes()
        if used is not None and used > self.disk_bytes:
            self._end(f"disk limit: the sandbox wrote {used} bytes, over disk={self.limits.disk}")

    def writable_bytes(self) -> int | None:
        """Size of the container's writable layer (None when the engine does not say)."""
        api = docker_client().api
        try:
            info = api._result(api._get(api._url("/containers/{0}/json", self.container.id),
                                        params={"size": 1}), True)
        except Exception:  # noqa: BLE001 - a container being removed
            return None
        return info.get("SizeRw")

    def _why_stopped(self) -> str:
        try:
            self.container.reload()
            state = self.container.attrs["State"]
        except Exception:  # noqa: BLE001
            return "the container is gone"
        if state.get("OOMKilled"):
            return f"out of memory (memory={self.limits.memory})"
        return f"the shell exited (status {state.get('ExitCode')})"

    def _end(self, reason: str) -> None:
        """Remove the container and raise SandboxGone for the call that found it ended."""
        self._gone = reason
        self.close()
        self._gone = reason
        raise SandboxGone(f"sandbox of {self.image} ended: {reason}")

