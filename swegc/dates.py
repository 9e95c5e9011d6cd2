"""ISO dates and timestamps as aware UTC datetimes: one reading for filters and mining."""

from __future__ import annotations

from datetime import date, datetime, timezone


def instant(value: str | date | None) -> datetime | None:
    """An ISO date or timestamp as an aware UTC datetime (a bare date is its midnight UTC).

    ``None`` or ``""`` give None; anything else that is not ISO raises ValueError.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
