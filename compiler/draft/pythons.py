"""Which Python an era gets: one the project said it supports at the time, that this machine builds.

swegc builds three interpreters itself (Debian's: 3.9, 3.11, 3.13; ``swegc.naming``). An era
whose project supports one of them gets the oldest such one that existed then, since packages
resolve as of the era's date and wheels for a newer interpreter may not exist yet. An era that
supports none of them (a 2019 project that stops at 3.8) gets its own newest Python through
``build.base_images`` (the official ``python:3.X`` images, which a machine that reaches Docker Hub
pulls), as SWE-Gym's shared settings do.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from swegc.naming import DEBIAN_SUITES

# First release of each CPython minor version: a Python released after an era's date is not
# one its project could have tested with.
RELEASED = {"3.6": "2016-12-23", "3.7": "2018-06-27", "3.8": "2019-10-14", "3.9": "2020-10-05",
            "3.10": "2021-10-04", "3.11": "2022-10-24", "3.12": "2023-10-02",
            "3.13": "2024-10-07", "3.14": "2025-10-07"}
BUILT_IN = tuple(DEBIAN_SUITES)
FLOOR = "3.8"  # what `swegc images base` builds here
# The official image of a Python this machine does not build (Debian suites that still ship it).
OFFICIAL_IMAGES = {"3.6": "python:3.6-bullseye", "3.7": "python:3.7-bookworm",
                   "3.8": "python:3.8-bookworm", "3.10": "python:3.10-bookworm",
                   "3.12": "python:3.12-bookworm", "3.14": "python:3.14-bookworm"}


@dataclass(frozen=True)
class PythonChoice:
    version: str
    why: str
    base_image: str | None = None  # set where the machine does not build this Python


def choose_python(requires: str | None, declared: set[str], date: str,
                  declared_from: str | None = None,
                  present: frozenset[str] | None = None,
                  official: bool = False) -> PythonChoice:
    """The Python of an era starting on ``date`` (YYYY-MM-DD) whose project requires
    ``requires`` and names ``declared`` (classifiers, tox, CI) as supported.

    Among the Pythons the project named (else those it allows) that were out by then, the
    oldest one this machine builds: it had been out longest, so the era's pinned packages most
    likely have wheels for it, and it changes only when the project drops a Python, which keeps
    the environments few. Where none is built here, the newest of them, from an official image;
    never one older than ``FLOOR`` (uv, which resolves packages by date, needs it).
    ``present``: the built-in Pythons whose base image this machine already has (None: not
    known); those come first, so a draft compiles with what is here. ``official``: a Python
    this machine does not build comes from an official image; otherwise the nearest one it
    builds above it stands in (3.8 -> 3.9), where the project's requirement allows.
    """
    released = [v for v in RELEASED if RELEASED[v] <= date] or [FLOOR]
    allowed = [v for v in released if _fits(v, requires)] or released
    said = sorted((v for v in declared if v in allowed), key=Version)
    pool = said or allowed
    where = (f"{declared_from} name {_span(said)}" if said else
             f"no supported Pythons are listed and {requires} is required" if requires
             else "no supported Pythons or Python requirement are written")
    built = [v for v in pool if v in BUILT_IN]
    here = [v for v in built if present is not None and v in present]
    if here:
        pick = min(here, key=Version)
        return PythonChoice(pick, f"{where}; {pick} is the oldest of them whose base image is "
                                  f"here (out longest by {date}: wheels for its packages exist)")
    if built:
        pick = min(built, key=Version)
        return PythonChoice(pick, f"{where}; {pick} is the oldest of them this machine builds "
                                  f"(out longest by {date}: wheels for its packages exist; "
                                  f"`swegc images base --python {pick}` builds it)")
    pick = max(pool, key=Version)
    if Version(pick) < Version(FLOOR):
        where += f"; {FLOOR} at least, which uv (dated resolution) runs on"
        pick = FLOOR
    image = OFFICIAL_IMAGES.get(pick)
    above = [v for v in BUILT_IN if Version(v) > Version(pick) and _fits(v, requires)]
    if not official and pick not in BUILT_IN and above:
        stand_in = min(above, key=Version)
        return PythonChoice(stand_in, f"{where}; {pick} is not one this machine builds, so "
                                      f"{stand_in}, the nearest above it that it does (`swegc "
                                      f"draft --official-pythons` takes {image or pick} instead)")
    if pick in BUILT_IN or image is None:
        return PythonChoice(pick, f"{where}; {pick} was out by {date}")
    return PythonChoice(pick, f"{where}; none is one this machine builds "
                              f"({', '.join(BUILT_IN)}), so {pick} comes from {image} "
                              "(build.base_images)", base_image=image)


def present_pythons() -> frozenset[str] | None:
    """The built-in Pythons whose base image the local Docker engine has; None without one."""
    from swegc.docker_client import docker_client, image_exists
    from swegc.errors import DockerUnavailableError
    from swegc.naming import DEFAULT_BASE_IMAGES

    try:
        client = docker_client()
    except DockerUnavailableError:
        return None
    return frozenset(v for v, image in DEFAULT_BASE_IMAGES.items()
                     if image_exists(client, image) is not None)


def _fits(version: str, requires: str | None) -> bool:
    if not requires:
        return True
    try:
        spec = SpecifierSet(requires.replace(" ", ""))
    except InvalidSpecifier:
        return True
    return spec.contains(f"{version}.0", prereleases=True) or spec.contains(
        f"{version}.99", prereleases=True)


def _span(versions: list[str]) -> str:
    if len(versions) <= 2:
        return " and ".join(versions)
    return f"{versions[0]} to {versions[-1]}"
