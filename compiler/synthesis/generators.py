"""The bug generators by strategy name, imported only when a run asks for them.

A generator reads a host checkout of an instance's fixed tree and returns ``BugCandidate``
values (``bugs``); it runs no container. ``generator`` looks one up by the ``--strategies``
name, so that an unknown name lists the known ones before anything runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from swegc.compiler.synthesis.bugs import BugCandidate, FunctionTarget
from swegc.errors import SwegcError


class Generator(Protocol):
    def __call__(self, root: Path, targets: Sequence[FunctionTarget], *, seed: int,
                 limit: int) -> list[BugCandidate]: ...


# strategy -> (module, function)
STRATEGIES: dict[str, tuple[str, str]] = {
    "mutation": ("swegc.compiler.synthesis.mutations", "mutation_candidates"),
    "pr_revert": ("swegc.compiler.synthesis.reverts", "revert_candidates"),
    "combined": ("swegc.compiler.synthesis.combine", "combined_candidates"),
    "policy": ("swegc.compiler.synthesis.rewrite", "policy_candidates"),
}
DEFAULT_STRATEGIES = ("mutation",)


def check_strategies(names: Sequence[str]) -> tuple[str, ...]:
    """The names, each checked against ``STRATEGIES``."""
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown or not names:
        raise SwegcError(f"--strategies: unknown strategy {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(STRATEGIES)}")
    return tuple(dict.fromkeys(names))


def generator(name: str) -> Callable[..., list[BugCandidate]]:
    """The generator of strategy ``name``; a SwegcError when this swegc lacks it."""
    module_name, attr = STRATEGIES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise SwegcError(f"--strategies: the {name} strategy is not in this swegc "
                         f"({module_name} is missing); leave it out") from None
    found = getattr(module, attr, None)
    if found is None:
        raise SwegcError(f"--strategies: {module_name} has no {attr}; leave {name} out")
    return found  # type: ignore[no-any-return]
