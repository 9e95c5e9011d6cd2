"""One reading of dates for filters and mining (swegc.dates.instant)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from swegc.dates import instant
from swegc.errors import SwegcError


def test_dates_and_timestamps_read_as_aware_utc_instants() -> None:
    midnight = datetime(2024, 1, 31, tzinfo=timezone.utc)
    assert instant("2024-01-31") == instant(date(2024, 1, 31)) == midnight
    assert instant("2024-01-31T12:00:00Z") == datetime(2024, 1, 31, 12, tzinfo=timezone.utc)
    assert instant(None) is None and instant("") is None


def test_a_value_that_is_not_a_date_says_how_to_write_one_or_reads_as_unknown() -> None:
    with pytest.raises(SwegcError, match=r"'last tuesday' is not an ISO date .*2024-01-31"):
        instant("last tuesday")
    assert instant("last tuesday", lenient=True) is None
