"""The bug generators by strategy name, each called with what it needs from one source instance.

Generators read files on the host and return ``BugCandidate`` values (``bugs``); none runs a
container. They need different things: mutations and policy rewrites the checkout of the fixed
tree and its covered functions, reverts the repository's clone at the instance's commit,
combinations the bugs already validated. ``Context`` carries all of it and ``STRATEGIES`` maps a
``--strategies`` name to the function that calls its generator; an unknown name lists the known
ones before anything runs, and a generator's module is imported only when a run uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swegc.compiler.synthesis.bugs import BugCandidate, FunctionTarget
from swegc.errors import SwegcError
from swegc.records import Instance


@dataclass(frozen=True)
class Context:
    """What a generator may read for one source instance."""

    source: Instance
    root: Path  # host checkout of the files the tests call into, as the fixed tree has them
    targets: Sequence[FunctionTarget]
    seed: int
    limit: int
    clone: Path | None = None  # the repository's clone (reverts), when the build's spec names one
    policy: Any = None  # a runtime Policy (rewrites), when --policy is given
    valid: Sequence[BugCandidate] = field(default_factory=tuple)  # this source's valid bugs


Generate = Callable[[Context], list[BugCandidate]]


def _mutation(ctx: Context) -> list[BugCandidate]:
    from swegc.compiler.synthesis.mutations import mutation_candidates

    return mutation_candidates(ctx.root, ctx.targets, seed=ctx.seed, limit=ctx.limit)


def _pr_revert(ctx: Context) -> list[BugCandidate]:
    from swegc.compiler.synthesis.reverts import revert_candidates

    if ctx.clone is None:
        return []
    # made for the tree the image holds: the instance's fix and test_patch on its commit
    on_top = ctx.source.patch.rstrip("\n") + "\n" + ctx.source.test_patch
    return revert_candidates(ctx.clone, ctx.source.base_commit,
                             test_globs=ctx.source.tests.file_globs, limit=ctx.limit,
                             repo=ctx.source.repo, on_top=on_top)


def _combined(ctx: Context) -> list[BugCandidate]:
    from swegc.compiler.synthesis.combine import combined_candidates

    return combined_candidates(ctx.valid, seed=ctx.seed, limit=ctx.limit, root=ctx.root)


def _policy(ctx: Context) -> list[BugCandidate]:
    from swegc.compiler.synthesis.rewrite import policy_rewrite_candidates

    if ctx.policy is None:
        raise SwegcError("--strategies policy needs --policy NAME (openai, transformers, or "
                         "scripted with --policy-options)")
    return policy_rewrite_candidates(ctx.root, ctx.targets, ctx.policy, seed=ctx.seed,
                                     limit=ctx.limit)


STRATEGIES: dict[str, Generate] = {"mutation": _mutation, "pr_revert": _pr_revert,
                                   "combined": _combined, "policy": _policy}
# Made from the bugs the other strategies' validation kept: generated after them.
AFTER_VALIDATION = frozenset({"combined"})
DEFAULT_STRATEGIES = ("mutation",)


def check_strategies(names: Sequence[str]) -> tuple[str, ...]:
    """The names in order, once each, each checked against ``STRATEGIES``."""
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown or not names:
        raise SwegcError(f"--strategies: unknown strategy {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(STRATEGIES)}")
    return tuple(dict.fromkeys(names))
