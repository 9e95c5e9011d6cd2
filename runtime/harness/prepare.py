"""The spec's ``tests.prepare`` commands: run after the patches, before the tests.

Some repositories build part of their code at install time from sources a fix may change:
hydra compiles its ANTLR grammar into parser modules, pandas its Cython extensions. The
instance image holds what ``base_commit`` built; a patch to the grammar changes nothing the
tests import until the build runs again. SWE-bench's eval scripts run the install again for
that reason; swegc runs only the commands the spec names, in validation (on each side, after
its patches) and in every grading, so that both see the same thing.

A command that fails or runs out of time means the patched tree does not build: the patch is
not resolved, and an instance whose own fix does not build is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swegc.runtime.sandbox import Sandbox

_TAIL_LINES = 12


@dataclass(frozen=True)
class PrepareResult:
    log: str  # every command with its exit code and output
    problem: str | None  # None when every command succeeded
    timed_out: bool = False


def run_prepare(box: Sandbox, commands: tuple[str, ...], timeout_s: int) -> PrepareResult:
    """Run ``commands`` in ``/testbed`` one after another, stopping at the first failure.

    Each runs in a subshell: a ``cd`` or ``export`` in one never reaches the test command,
    which must run as it does in a harness that knows nothing of ``prepare``.
    """
    parts: list[str] = []
    for command in commands:
        result = box.execute(f"(\n{command}\n)", timeout_s=timeout_s, cwd="/testbed")
        parts.append(f"# $ {command}\n# exit {result.exit_code} after {result.duration_s:.2f}s"
                     f"{' (timed out)' if result.timed_out else ''}\n{result.output}\n")
        if result.exit_code != 0 or result.timed_out:
            tail = "\n".join(result.output.strip().splitlines()[-_TAIL_LINES:])
            why = (f"ran past {timeout_s}s" if result.timed_out
                   else f"exited {result.exit_code}")
            return PrepareResult("".join(parts), f"tests.prepare command `{command}` {why}: "
                                 f"{tail}", result.timed_out)
    return PrepareResult("".join(parts), None)
