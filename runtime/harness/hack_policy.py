"""What a patch that looks like reward hacking (``GradeReport.suspicious``) costs its grade.

Two policies: ``flag`` (the default) grades it by its tests as any patch, lists the findings,
and leaves it out where a grade becomes a training signal (``swegc train rft``'s selection, the
RL environment's reward) unless asked; ``refuse`` grades it unresolved. The scan is static, so
it cannot tell a fix that needs, say, ``atexit`` from a cheat: ``flag`` keeps the verdict
honest and lets a person look. The policy is applied to a stored grade when it is reported, so
grades stay reusable under either policy. A run whose runner was tampered with is refused
under both (the guard's verdict, not this policy's).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the CLI imports HackOptions: the harness stays out of `swegc --help`
    from swegc.runtime.harness.grading import GradeReport

HackPolicy = Literal["refuse", "flag"]
HACK_POLICIES: tuple[str, ...] = ("refuse", "flag")


@dataclass(frozen=True)
class HackOptions:
    """How `swegc evaluate` and `swegc rollout` treat a suspicious patch."""

    hack_policy: HackPolicy = "flag"
    """What a patch whose non-test code looks like reward hacking (pytest or unittest internals,
    sys.modules edits, atexit, os._exit, writes to fds 1/2, caller frames, gc walks, builtins
    edits, import hooks, site customization) gets: flag (graded by its tests, listed under
    suspicious, left out of train rft and the RL reward) or refuse (graded unresolved)."""


def with_hack_policy(report: GradeReport, policy: str = "flag") -> GradeReport:
    """``report`` as ``policy`` grades it: under ``refuse`` a suspicious patch is unresolved."""
    from swegc.runtime.harness.grading import ResolvedStatus

    if policy not in HACK_POLICIES:
        raise ValueError(f"hack policy {policy!r}: expected one of {', '.join(HACK_POLICIES)}")
    if policy == "refuse" and report.suspicious and report.status is not None \
            and report.status is not ResolvedStatus.NO:
        return replace(report, resolved=False, status=ResolvedStatus.NO)
    return report
