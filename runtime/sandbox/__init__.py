"""One sandbox interface for everything that runs inside an instance image.

Image builds, compile validation, agent rollouts and grading all run commands in a container
of an image through this interface, so that limits, isolation, output capping and cleanup
live in one place. ``open_sandbox`` starts the default implementation.

    with open_sandbox("swegc-inst/x:abc", limits=SandboxLimits(network=False)) as box:
        result = box.execute("pytest -q", timeout_s=60)
        patch = box.diff()
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

TIMEOUT_EXIT = 124  # coreutils `timeout` exit code; also what a timed-out command reports


class InfrastructureError(Exception):
    """The engine or the container failed (not the code under test); worth a retry."""


class SandboxGone(InfrastructureError):
    """The sandbox died under the command (out of memory, the disk limit) or, guarded, a command
    left it unable to serve (a fork bomb at the pids limit, ``rm -rf /``)."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str  # stdout and stderr merged, capped
    duration_s: float
    truncated: bool = False  # output was longer than the cap; the note in ``output`` says so

    @property
    def timed_out(self) -> bool:
        return self.exit_code in (TIMEOUT_EXIT, 137)


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandbox; every field has a default a rollout can live with.

    ``None`` for cpus, memory, pids or disk means no limit of that kind (image builds).
    """

    network: bool = False
    """Network access; none unless the instance says so."""
    cpus: float | None = 1.0
    """CPUs of a sandbox: CPU time in cores (CFS quota)."""
    memory: str | None = "4g"
    """Memory limit of a sandbox, swap included (so no swap); past it the sandbox is gone
    (SandboxGone)."""
    pids: int | None = 1024
    """Processes and threads at once (contains fork bombs; an agent's sandbox ends on reaching it)."""
    disk: str | None = "4g"
    """Writable space the sandbox may fill; past it the sandbox is gone (SandboxGone)."""
    output_bytes: int = 64 * 1024
    """Cap on one command's output kept (head and tail)."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables set in the container for every command."""

    def __post_init__(self) -> None:
        for name in ("memory", "disk"):
            parse_size(getattr(self, name), what=name)
        if ((self.cpus is not None and self.cpus <= 0) or (self.pids is not None and self.pids < 1)
                or self.output_bytes < 0):
            raise ValueError(f"sandbox limits must be positive (cpus={self.cpus}, "
                             f"pids={self.pids}, output_bytes={self.output_bytes})")



_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int | None, what: str = "size") -> int | None:
    """Bytes in a Docker-style size: ``512m``, ``4g``, ``1.5G``, ``100000`` (powers of 1024)."""
    if text is None or isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"{what}: expected a size like \"512m\" or \"4g\" (got {text!r})")
    number, unit = match.groups()
    return int(float(number) * 1024 ** "bkmgt".index(unit.lower() or "b"))


UNLIMITED = SandboxLimits(network=True, cpus=None, memory=None, pids=None, disk=None,
                          output_bytes=32 * 1024 * 1024)  # what image builds run under


class Sandbox(Protocol):
    """A running container of an image in which commands run with a time limit."""

    image: str
    workdir: str
    cpu_s: float | None
    """CPU seconds the sandbox's processes used, read when it closed (None before, or when the
    engine could not say: ``swegc.runtime.sandbox.cpu``)."""

    def execute(self, command: str, timeout_s: float = 600, cwd: str | None = None,
                env: dict[str, str] | None = None) -> ExecResult:
        """Run ``command`` with bash; a timeout kills the command (exit 124), not the sandbox.

        ``cwd`` and ``env`` hold for this call only. Raises ``SandboxGone`` when the sandbox
        died under the command (out of memory, disk limit, the shell killed).
        """
        ...

    def read_file(self, path: str) -> bytes:
        """A file's bytes (relative paths are below ``workdir``); FileNotFoundError if absent."""
        ...

    def write_file(self, path: str, data: bytes) -> None:
        """Write a file, making missing folders (existing folders keep their modes)."""
        ...

    def diff(self) -> str:
        """The working tree's change against HEAD as a git patch (new files included)."""
        ...

    def close(self) -> None:
        ...

    def __enter__(self) -> Sandbox:
        ...

    def __exit__(self, *exc: object) -> None:
        ...


def open_sandbox(image: str, limits: SandboxLimits | None = None, *, workdir: str = "/testbed",
                 labels: dict[str, str] | None = None, guard: bool = False) -> Sandbox:
    """Start a sandbox of ``image`` with the default implementation: a persistent shell.

    ``guard``: an agent's sandbox. A command that reaches the pids limit is killed within a
    quarter second (a fork bomb) and one that leaves the sandbox unable to serve (the shell's
    state or a core tool gone: ``rm -rf /``) ends it; ``execute`` raises ``SandboxGone`` saying
    which. Off for test runs, where a command at the pids limit only has its forks refused.
    The caller closes it (``with open_sandbox(...) as box:``). Raises InfrastructureError
    when the engine cannot start it.
    """
    from swegc.runtime.sandbox.docker_shell import DockerShellSandbox

    box = DockerShellSandbox(image, limits or SandboxLimits(), workdir=workdir, labels=labels,
                             guard=guard)
    box.start()
    return box
