"""The statistics collector against the simulator's ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from capgo_exporter.api import CapgoClient
from capgo_exporter.collect.base import DiscoveryMissing
from capgo_exporter.collect.statistics import (
    APP_BANDWIDTH,
    APP_MAU,
    APP_STORAGE,
    ORG_BANDWIDTH,
    ORG_BANDWIDTH_LIMIT,
    ORG_BUILD_TIME,
    ORG_CYCLE_END,
    ORG_CYCLE_START,
    ORG_MAU,
    ORG_MAU_LIMIT,
    ORG_STORAGE,
    ORG_STORAGE_LIMIT,
    StatisticsCollector,
    billing_cycle_end,
    billing_cycle_start,
)
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import pinned_now

from .conftest import discover, make_settings, run, sim_client, values


@pytest.mark.parametrize(
    ("today", "start_day", "expected"),
    [
        (date(2026, 11, 26), 1, date(2026, 11, 1)),
        (date(2026, 11, 1), 1, date(2026, 11, 1)),
        (date(2026, 11, 26), 27, date(2026, 10, 27)),
        (date(2026, 11, 26), 26, date(2026, 11, 26)),
        (date(2026, 3, 15), 31, date(2026, 2, 28)),  # clamped to February's length
        (date(2026, 1, 10), 15, date(2025, 12, 15)),  # across the year
        (date(2028, 2, 29), 30, date(2028, 2, 29)),  # leap day, clamped
    ],
)
def test_billing_cycle_start(today: date, start_day: int, expected: date) -> None:
    assert billing_cycle_start(today, start_day) == expected


@pytest.mark.parametrize(
    ("today", "start_day", "expected"),
    [
        (date(2026, 11, 26), 1, date(2026, 12, 1)),
        (date(2026, 11, 1), 1, date(2026, 12, 1)),
        (date(2026, 12, 31), 1, date(2027, 1, 1)),
        (date(2026, 11, 26), 27, date(2026, 11, 27)),
        (date(2026, 1, 31), 31, date(2026, 2, 28)),  # clamped to February's length
        (date(2026, 2, 28), 31, date(2026, 3, 31)),
    ],
)
def test_billing_cycle_end(today: date, start_day: int, expected: date) -> None:
    assert billing_cycle_end(today, start_day) == expected
    assert billing_cycle_start(today, start_day) <= today < expected


@pytest.mark.parametrize("start_day", [1, 15, 31])
async def test_statistics_equal_ground_truth(
    sim: Simulator, client: CapgoClient, start_day: int
) -> None:
    settings = make_settings(
        billing_cycle_start_day=start_day,
        plan_mau_limit=5000,
        plan_storage_limit_bytes="2GiB",
    )
    discovery = await discover(client, settings)
    result = await run(StatisticsCollector(), client, settings, discovery)
    truth = sim.truth(cycle_start_day=start_day)
    s = result.samples
    assert values(s, ORG_MAU) == {(o.id,): o.mau for o in truth.orgs}
    assert values(s, ORG_STORAGE) == {(o.id,): o.storage_bytes for o in truth.orgs}
    assert values(s, ORG_BANDWIDTH) == {(o.id,): o.bandwidth_bytes for o in truth.orgs}
    assert values(s, ORG_BUILD_TIME) == {(o.id,): o.build_time_seconds for o in truth.orgs}
    assert values(s, ORG_CYCLE_START) == {
        (o.id,): o.billing_cycle_start.timestamp() for o in truth.orgs
    }
    ends = set(values(s, ORG_CYCLE_END).values())
    assert len(ends) == 1
    assert ends.pop() > truth.now.timestamp()
    apps = [a for o in truth.orgs for a in o.apps]
    assert values(s, APP_MAU) == {(a.app_id,): a.mau for a in apps}
    assert values(s, APP_STORAGE) == {(a.app_id,): a.storage_bytes for a in apps}
    assert values(s, APP_BANDWIDTH) == {(a.app_id,): a.bandwidth_bytes for a in apps}
    # Limits come from configuration; unset ones are absent.
    assert values(s, ORG_MAU_LIMIT) == {(o.id,): 5000 for o in truth.orgs}
    assert values(s, ORG_STORAGE_LIMIT) == {(o.id,): 2 * 1024**3 for o in truth.orgs}
    assert ORG_BANDWIDTH_LIMIT not in s
    assert all(o.mau > 0 for o in truth.orgs), "the dataset has activity"


async def test_one_request_per_org_and_app(sim: Simulator, client: CapgoClient) -> None:
    settings = make_settings()
    discovery = await discover(client, settings)
    sim.reset_request_counts()
    await run(StatisticsCollector(), client, settings, discovery)
    counts = sim.request_counts()
    assert counts["GET /statistics/org/{org_id}"] == len(discovery.orgs)
    assert counts["GET /statistics/app/{app_id}"] == len(discovery.apps)


async def test_an_unpaid_org_is_paused_and_the_others_collected() -> None:
    sim = Simulator(
        SimConfig(
            seed=5,
            orgs=2,
            apps_per_org=2,
            devices_per_app=10,
            keys={"demo": "org_super_admin"},
            unpaid_orgs=frozenset({1}),
        ),
        clock=pinned_now,
    )
    client = sim_client(sim)
    settings = make_settings()
    discovery = await discover(client, settings)
    collector = StatisticsCollector()
    sim.reset_request_counts()
    first = await run(collector, client, settings, discovery)
    second = await run(collector, client, settings, discovery)
    await client.aclose()
    paid, _ = sim.truth().orgs
    assert values(first.samples, ORG_MAU) == {(paid.id,): paid.mau}
    assert {k[0] for k in values(first.samples, APP_MAU)} == {a.app_id for a in paid.apps}
    assert second.samples == first.samples
    # The unpaid org was asked once, its apps never, and neither again on the next run.
    assert sim.status_counts()["GET /statistics/org/{org_id} 402"] == 1
    assert sim.request_counts()["GET /statistics/app/{app_id}"] == 2 * len(paid.apps)


async def test_needs_a_discovery(client: CapgoClient) -> None:
    settings = make_settings()
    with pytest.raises(DiscoveryMissing):
        await run(StatisticsCollector(), client, settings, None)


async def test_sends_cycle_start_and_tomorrow(client: CapgoClient, sim: Simulator) -> None:
    settings = make_settings(billing_cycle_start_day=20)
    discovery = await discover(client, settings)
    collector = StatisticsCollector()
    fixed = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)
    from .conftest import context

    seen: list[tuple[date, date]] = []
    original = client.statistics.org

    async def spy(org_id: str, start: date, end: date, *, daily: bool = False) -> object:
        seen.append((start, end))
        return await original(org_id, start, end, daily=daily)

    client.statistics.org = spy  # type: ignore[method-assign,assignment]
    await collector.collect(context(client, settings, discovery, now=lambda: fixed))
    assert set(seen) == {(date(2026, 11, 20), date(2026, 11, 27))}
