"""The simulator's timestamp text: the fast epoch-ms formatter device rows use writes what
formatting a datetime writes, at the edges of days, years and a leap day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from capgo_exporter.sim.timeutil import from_ms, iso_z, ms_iso_z, to_ms

EDGES = [
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),  # before the epoch: floor, not 0
    datetime(2027, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    datetime(2028, 1, 1, tzinfo=UTC),
    datetime(2028, 2, 29, 12, 34, 56, 7_000, tzinfo=UTC),
    datetime(2028, 3, 1, 0, 0, 0, 1_000, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", EDGES, ids=lambda m: m.isoformat())
def test_ms_iso_z_writes_what_iso_z_writes(moment: datetime) -> None:
    for offset in (timedelta(0), timedelta(milliseconds=-1), timedelta(milliseconds=1)):
        ms = to_ms(moment + offset)
        assert ms_iso_z(ms) == iso_z(from_ms(ms))


def test_ms_iso_z_over_a_year_of_uneven_steps() -> None:
    ms = to_ms(datetime(2027, 6, 1, tzinfo=UTC))
    for _ in range(5_000):
        ms += 6_311_017  # 1 h 45 min 11.017 s: every hour, minute and millisecond field moves
        assert ms_iso_z(ms) == iso_z(from_ms(ms))
