"""ISO dates and timestamps as aware UTC datetimes: the one reading for filters and mining."""

from __future__ import annotations

from datetime import date, datetime, timezone

from swegc.errors import SwegcError


def instant(value: str | date | None, *, lenient: bool = False) -> datetime | None:
    """An ISO date or timestamp as an aware UTC datetime (a bare date is its midnight UTC).

    ``None`` or ``""`` give None. Anything else that is not ISO raises a SwegcError saying how
    to write it, or, with ``lenient``, reads as unknown (None): for dates read from records
    (a candidate's ``created_at``), where a bad value should reject a candidate, not a run.
    """
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        if lenient:
            return None
        raise SwegcError(f"{value!r} is not an ISO date or timestamp "
                         "(use 2024-01-31 or 2024-01-31T12:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
