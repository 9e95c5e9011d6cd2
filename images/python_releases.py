"""The earliest date an environment's packages may resolve as of: its Python's first release.

No package released before a Python existed can be expected to have wheels for it: under
``pip_date: commit`` a 2019 commit on Python 3.9 resolved numpy 1.16, which has no 3.9 wheel,
and building it from source failed. And the wheels come some weeks after the Python: numpy's
first with 3.9 wheels came 23 days after 3.9.0, matplotlib's 38 days after. So a date is moved
to ``WHEELS_DAYS`` after the Python's x.y.0 release when it is earlier, and the build says so.
"""

from __future__ import annotations

from datetime import date, timedelta

# CPython x.y.0 release dates (python.org)
FIRST_RELEASES = {
    "2.7": "2010-07-03", "3.3": "2012-09-29", "3.4": "2014-03-16", "3.5": "2015-09-13",
    "3.6": "2016-12-23", "3.7": "2018-06-27", "3.8": "2019-10-14", "3.9": "2020-10-05",
    "3.10": "2021-10-04", "3.11": "2022-10-24", "3.12": "2023-10-02", "3.13": "2024-10-07",
    "3.14": "2025-10-07",
}
WHEELS_DAYS = 90  # after x.y.0, by when the common compiled packages had published wheels
FLOOR_RULE = f"no earlier than {WHEELS_DAYS} days after its x.y.0 release"


def _key(python: str) -> tuple[int, ...]:
    return tuple(int(p) for p in python.split(".")[:2] if p.isdigit())


def python_floor(python: str | None) -> str | None:
    """The earliest ISO date (``YYYY-MM-DDT00:00:00Z``) to resolve packages as of on
    ``python`` (``x.y``), or None for a Python the table does not know. A Python newer than the
    table's newest gets that one's floor: a lower bound still."""
    if not python or not _key(python):
        return None
    first = FIRST_RELEASES.get(python)
    if first is None:
        older = [v for v in FIRST_RELEASES if _key(v) <= _key(python)]
        if not older:
            return None
        first = FIRST_RELEASES[max(older, key=_key)]
    floor = date.fromisoformat(first) + timedelta(days=WHEELS_DAYS)
    return f"{floor.isoformat()}T00:00:00Z"


def moved_date(python: str | None, pip_date: str | None) -> str | None:
    """The date to resolve as of in place of ``pip_date`` when it is before ``python``'s
    floor; None when it may stay (or there is no date)."""
    floor = python_floor(python)
    if not pip_date or floor is None:
        return None
    asked = pip_date if "T" in pip_date else f"{pip_date}T00:00:00Z"
    return floor if _as_utc(asked) < _as_utc(floor) else None


def _as_utc(text: str) -> str:
    """An ISO datetime, comparable as text: UTC, seconds, no fraction."""
    from datetime import datetime, timezone

    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def floor_reason(python: str) -> str:
    """Why an environment on ``python`` resolves no earlier than its floor, in words."""
    first = FIRST_RELEASES.get(python)
    when = f" ({python}.0: {first})" if first else ""
    return (f"no package released before Python {python}{when} has wheels for it, and the "
            f"common ones published theirs in the weeks after (a pip_date is never earlier "
            f"than {WHEELS_DAYS} days after its Python's x.y.0 release)")
