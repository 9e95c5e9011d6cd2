"""Versions grouped into environments: adjacent versions whose recipes agree share one.

Every version gets the recipe its first commit's files ask for; neighbours (in version order)
with the same recipe merge into one range, so a split happens exactly where the install, the
Python or the build changes; the Debian packages and extra pip packages of the merged versions
are united. A package that a later commit of a range adds (a pull
request that adds a dependency, as calc's #8 adds more-itertools) goes into the range's ``pip``:
the env image is built at the oldest base commit of its range, where that package is not
declared yet, and the instance's patch that needs it is applied after the install.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from swegc.compiler.draft.history import Commit
from swegc.compiler.draft.recipe import Recipe
from swegc.compiler.draft.versionsource import version_key


@dataclass
class VersionEra:
    """One version as the history shows it: where it starts, and its recipe there."""

    version: str
    first: Commit
    last: Commit
    recipe: Recipe
    # name -> (requirement as written, the pull request whose merge declares it)
    later: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class Range:
    """One drafted environment: the versions it serves and the eras in it."""

    eras: list[VersionEra]
    versions: str = ""

    @property
    def recipe(self) -> Recipe:
        return self.eras[0].recipe

    def union(self, key: str) -> list[str]:
        """``apt`` or ``pip`` of every era in the range, the first era's first; a package is
        named once (the first era's requirement wins)."""
        seen: dict[str, str] = {}
        for era in self.eras:
            for item in era.recipe.env.get(key, []):
                seen.setdefault(_bare(item), item)
        return list(seen.values())

    def union_why(self, key: str) -> str:
        reasons: list[str] = []
        for era in self.eras:
            for part in era.recipe.why.get(key, "").split("; "):
                if part and part not in reasons:
                    reasons.append(part)
        return "; ".join(reasons)

    def added_later(self) -> dict[str, tuple[str, int]]:
        """Packages pull requests of the range add themselves, not declared at its start:
        name -> (the requirement as written, the pull request)."""
        start = self.eras[0].recipe.names
        found: dict[str, tuple[str, int]] = {}
        for era in self.eras:
            for name, added in era.later.items():
                if name not in start:
                    found.setdefault(name, added)
        return found


def _bare(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def group_eras(eras: list[VersionEra]) -> list[Range]:
    """Ranges of adjacent versions with equal recipes, oldest first, with their specifiers."""
    ordered = sorted(eras, key=lambda e: version_key(e.version))
    ranges: list[Range] = []
    for era in ordered:
        if ranges and ranges[-1].recipe.signature() == era.recipe.signature():
            ranges[-1].eras.append(era)
        else:
            ranges.append(Range([era]))
    for index, current in enumerate(ranges):
        low = current.eras[0].version if index else None
        high = ranges[index + 1].eras[0].version if index + 1 < len(ranges) else None
        current.versions = ",".join(part for part in (f">={low}" if low else "",
                                                      f"<{high}" if high else "") if part)
    return ranges


def what_changed(before: Recipe, after: Recipe) -> str:
    """The keys whose values differ between two neighbouring ranges, in words."""
    keys = [key for key in dict.fromkeys([*before.env, *after.env])
            if key not in ("apt", "pip") and before.env.get(key) != after.env.get(key)]
    return ", ".join(keys) or "nothing"
