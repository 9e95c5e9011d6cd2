"""The values passed between bug generators and synthesis validation.

A generator reads source files on the host (a checkout of the instance's commit) and returns
``BugCandidate`` values; it runs no container. Validation applies ``bug_patch`` on top of the
instance's fixed tree in its image, runs the covering tests on both sides, and keeps the
candidate when some of them pass clean and fail with the bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FunctionTarget:
    """A function (or method) the tests cover, located in a source file of the checkout."""

    path: str  # repository-relative, POSIX
    qualname: str  # "Class.method" or "function"; nested functions as "outer.<locals>.inner"
    first_line: int  # 1-based, as the code object reports it (co_firstlineno): a decorated function
    # starts at its first decorator
    last_line: int
    covering_tests: tuple[str, ...] = ()  # test ids as the instance's parser names them


@dataclass(frozen=True)
class BugCandidate:
    """One candidate bug: the diff that makes it, and the fix (its reverse) as the gold patch."""

    strategy: str  # "mutation" | "pr_revert" | "combined" | "policy"
    kind: str  # the mutation operator ("invert_condition", ...), or "" for other strategies
    bug_patch: str  # unified diff (git apply) that introduces the bug into the clean tree
    fix_patch: str  # the gold patch: the reverse of bug_patch
    files: tuple[str, ...]  # files changed, repository-relative
    functions: tuple[str, ...]  # "path:qualname" of each function changed
    description: str = ""  # what was done, for logs and reports (never shown to an agent)
    # strategy-specific facts kept with the row: the reverted pull request's number and its
    # linked issue text, the combined candidates' ids, the policy's prompt and model.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """The row's ``origin`` column: ``mutation:<kind>``, ``pr_revert``, ``combined``, ``policy``."""
        return f"mutation:{self.kind}" if self.strategy == "mutation" else self.strategy
