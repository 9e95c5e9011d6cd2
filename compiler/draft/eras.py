"""Versions grouped into environments: adjacent versions whose recipes agree share one.

Every version gets the recipe its first commit's files ask for; neighbours (in version order)
with the same recipe merge into one range, so a split happens exactly where the install, the
Python or the Debian packages change. A package that a later commit of a range adds (a pull
request that adds a dependency, as calc's #8 adds more-itertools) goes into the range's ``pip``:
the env image is built at the oldest base commit of its range, where that package is not
declared yet, and the instance's patch that needs it is applied after the install.
"""

from __future__ import annotations

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
    later: dict[str, str] = field(default_factory=dict)  # name -> requirement added later


@dataclass
class Range:
    """One drafted environment: the versions it serves and the eras in it."""

    eras: list[VersionEra]
    versions: str = ""

    @property
    def recipe(self) -> Recipe:
        return self.eras[0].recipe

    def added_later(self) -> dict[str, str]:
        """Packages later commits of the range declare that its first commit does not."""
        start = self.eras[0].recipe.names
        found: dict[str, str] = {}
        for era in self.eras:
            for name, requirement in era.later.items():
                if name not in start:
                    found.setdefault(name, requirement)
        for era in self.eras[1:]:
            for name in era.recipe.names - start:
                found.setdefault(name, name)
        return found


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
            if before.env.get(key) != after.env.get(key)]
    return ", ".join(keys) or "nothing"
