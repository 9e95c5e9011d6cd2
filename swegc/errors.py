"""User-facing failures: one exception type per kind, each saying what, where and how to fix.

The CLI turns any ``SwegcError`` into its message and exit code 1; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found by a check, with where it is (``file:line``) and what to do."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class SwegcError(Exception):
    """Base of every error that is the user's to fix (bad input, missing setup)."""


class SpecError(SwegcError):
    """A spec (or a file it extends) has one or more problems; all of them are listed."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        count = len(lines)
        head = f"{count} problem{'s' if count != 1 else ''} in specs:"
        super().__init__("\n".join([head, *("  " + line for line in lines)]))


class InputError(SwegcError):
    """A data file (candidates JSONL, instances, trajectories) cannot be read as it is."""


class DockerUnavailableError(SwegcError):
    """No Docker engine answers, or a base image the spec needs is missing."""


class StoreError(SwegcError):
    """The build store cannot be opened or belongs to an incompatible swegc version."""


class RegistryError(SwegcError):
    """A registry cannot be reached, refuses the credentials, or a push failed."""


class ImageGoneError(SwegcError):
    """The image a dataset row names is gone: a local tag or id this engine no longer holds, or
    a digest its registry does not serve. Unlike a failure of the engine, running the same
    command again cannot help; ``how`` says what brings the image back."""

    def __init__(self, reference: str, why: str, how: str):
        super().__init__(f"image {reference} is gone: {why}; {how}")
        self.reference, self.why, self.how = reference, why, how

    def __reduce__(self) -> tuple[object, ...]:  # crosses process boundaries (Ray) intact
        return (ImageGoneError, (self.reference, self.why, self.how))
