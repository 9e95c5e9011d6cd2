"""Whether the clones a spec names are there: ``swegc check`` says so before a compile needs them.

A spec can be right and still not build on this machine: ``source.clone`` (or a submodule's
clone) names a folder or bundle that does not exist. Compile stops there too, but only after
loading every spec; ``check`` lists every missing clone with its file and line at once. Specs
meant for other machines (the shipped ones name ``../clones/*``) are checked without their
clones with ``swegc check --without-clones``.
"""

from __future__ import annotations

from collections.abc import Sequence

from swegc.compiler.spec.model import RepoSpec
from swegc.errors import Problem


def clone_problems(specs: Sequence[RepoSpec]) -> list[Problem]:
    """A problem for each clone (repository or submodule) that does not exist."""
    problems: list[Problem] = []
    for spec in specs:
        clone = spec.source.clone
        if clone is not None and not clone.exists():
            problems.append(Problem(spec.where("source.clone"), (
                f"source.clone: {clone} does not exist; clone {spec.repo} there (or make a git "
                "bundle of it), or correct the path (relative to the spec file)")))
        for path, sub in sorted(spec.source.submodules.items()):
            if not sub.exists():
                problems.append(Problem(spec.where(f"source.submodules.{path}"), (
                    f"source.submodules: {sub} (submodule {path}) does not exist; clone the "
                    "submodule's repository there (its URL is in the repository's .gitmodules)")))
    return problems
