"""Calendar edge cases, each on its own pinned clock (the simulator's and the collector's):
what the statistics collector asks (`from` = cycle start, `to` = tomorrow, exclusive), the cycle
gauges it publishes, and the day the inventory reads `bundle_usage` for."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from capgo_exporter.collect.inventory import InventoryCollector
from capgo_exporter.collect.statistics import ORG_CYCLE_END, ORG_CYCLE_START, StatisticsCollector
from capgo_exporter.sim import SimConfig, Simulator

from .conftest import KEY, context, discover, make_settings, sim_client, values


def midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


CASES = [
    # (now, cycle start day, expected cycle start, expected cycle end)
    pytest.param(
        datetime(2027, 3, 1, 0, 0, 1, tzinfo=UTC),
        1,
        date(2027, 3, 1),
        date(2027, 4, 1),
        id="first-day",
    ),
    pytest.param(
        datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC),
        1,
        date(2027, 3, 1),
        date(2027, 4, 1),
        id="last-day",
    ),
    pytest.param(
        datetime(2026, 4, 30, 12, 0, tzinfo=UTC),
        31,
        date(2026, 4, 30),
        date(2026, 5, 31),
        id="day31-in-30-day-month",
    ),
    pytest.param(
        datetime(2026, 2, 28, 12, 0, tzinfo=UTC),
        31,
        date(2026, 2, 28),
        date(2026, 3, 31),
        id="day31-in-february",
    ),
    pytest.param(
        datetime(2026, 2, 27, 12, 0, tzinfo=UTC),
        31,
        date(2026, 1, 31),
        date(2026, 2, 28),
        id="day31-before-february-end",
    ),
    pytest.param(
        datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC),
        1,
        date(2028, 2, 1),
        date(2028, 3, 1),
        id="leap-day",
    ),
    pytest.param(
        datetime(2028, 2, 29, 6, 0, tzinfo=UTC),
        30,
        date(2028, 2, 29),
        date(2028, 3, 30),
        id="leap-day-clamped-start",
    ),
    pytest.param(
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        1,
        date(2026, 12, 1),
        date(2027, 1, 1),
        id="new-year-eve",
    ),
    pytest.param(
        datetime(2027, 1, 1, 0, 0, tzinfo=UTC), 1, date(2027, 1, 1), date(2027, 2, 1), id="new-year"
    ),
    pytest.param(
        datetime(2027, 1, 10, 8, 0, tzinfo=UTC),
        15,
        date(2026, 12, 15),
        date(2027, 1, 15),
        id="start-day-15-across-year",
    ),
]


@pytest.mark.parametrize(("now", "start_day", "cycle_start", "cycle_end"), CASES)
async def test_statistics_window_and_cycle_gauges(
    now: datetime, start_day: int, cycle_start: date, cycle_end: date
) -> None:
    sim = Simulator(
        SimConfig(
            seed=4, orgs=1, apps_per_org=1, devices_per_app=20, keys={KEY: "org_super_admin"}
        ),
        clock=lambda: now,
    )
    client = sim_client(sim)
    settings = make_settings(billing_cycle_start_day=start_day)
    try:
        discovery = await discover(client, settings)
        asked: list[tuple[date, date]] = []
        original = client.statistics.org

        async def spy(org_id: str, start: date, end: date, *, daily: bool = False) -> object:
            asked.append((start, end))
            return await original(org_id, start, end, daily=daily)

        client.statistics.org = spy  # type: ignore[method-assign,assignment]
        result = await StatisticsCollector().collect(
            context(client, settings, discovery, now=lambda: now)
        )
    finally:
        await client.aclose()
    tomorrow = date.fromordinal(now.date().toordinal() + 1)
    assert asked == [(cycle_start, tomorrow)]
    org_id = discovery.orgs[0].id
    assert values(result.samples, ORG_CYCLE_START) == {(org_id,): midnight(cycle_start)}
    assert values(result.samples, ORG_CYCLE_END) == {(org_id,): midnight(cycle_end)}
    # The simulator's own ground truth (separate code) agrees on the cycle.
    assert sim.truth(cycle_start_day=start_day).orgs[0].billing_cycle_start.date() == cycle_start


@pytest.mark.parametrize(
    ("now", "last_complete_day"),
    [
        pytest.param(
            datetime(2027, 3, 1, 23, 59, 59, tzinfo=UTC), date(2027, 2, 28), id="before-midnight"
        ),
        pytest.param(datetime(2027, 3, 2, 0, 0, tzinfo=UTC), date(2027, 3, 1), id="at-midnight"),
        pytest.param(
            datetime(2028, 3, 1, 0, 0, tzinfo=UTC), date(2028, 2, 29), id="after-leap-day"
        ),
        pytest.param(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC), date(2026, 12, 31), id="new-year"),
    ],
)
async def test_bundle_usage_reads_the_last_complete_utc_day(
    now: datetime, last_complete_day: date
) -> None:
    sim = Simulator(
        SimConfig(
            seed=4, orgs=1, apps_per_org=1, devices_per_app=20, keys={KEY: "org_super_admin"}
        ),
        clock=lambda: now,
    )
    client = sim_client(sim)
    asked: list[tuple[date, date]] = []
    original = client.statistics.bundle_usage

    async def spy(app_id: str, start: date, end: date) -> object:
        asked.append((start, end))
        return await original(app_id, start, end)

    client.statistics.bundle_usage = spy  # type: ignore[method-assign,assignment]
    try:
        await InventoryCollector().collect(context(client, make_settings(), None, now=lambda: now))
    finally:
        await client.aclose()
    assert asked == [(last_complete_day, now.date())]
