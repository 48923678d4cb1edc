"""The request budget with the events collector on: one cycle of the whole exporter on the
simulator costs what docs/scaling.md says, per collector, and the events collector adds
exactly two requests per app per run (installs, then failures)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from capgo_exporter.collectors import spec_of
from capgo_exporter.daemon import exporter
from capgo_exporter.selfmetrics import EXPORTER_ENDPOINTS
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import pinned_now
from tests.collect.conftest import KEY

ORGS, APPS_PER_ORG = 2, 3
APPS = ORGS * APPS_PER_ORG
INSIGHTS = "POST /private/stats/insights"


def _sim(*, orgs: int, apps_per_org: int) -> Simulator:
    keys = {KEY: "org_super_admin"}
    config = SimConfig(seed=5, orgs=orgs, apps_per_org=apps_per_org, devices_per_app=300, keys=keys)
    return Simulator(config, clock=pinned_now)


@dataclass
class Cycle:
    per_collector: dict[str, int]  # requests of one run of each collector
    events_routes: dict[str, int]  # the simulator's counts per route for the events run
    endpoints: set[str]  # the endpoint labels of the exporter's request counter


async def _cycle(sim: Simulator) -> Cycle:
    settings = load_settings(
        {"api_url": "http://sim", "api_key": KEY, "requests_per_minute": 100_000},
        environ={},
        home=None,
    )
    per_collector: dict[str, int] = {}
    async with exporter(settings, sim.transport(), process_metrics=False) as built:
        # The discovering collector (inventory) first, events last.
        ordered = sorted(
            built.collectors,
            key=lambda c: (not spec_of(c.name).discovers, c.name == "events"),
        )
        for collector in ordered:
            sim.reset_request_counts()
            assert await built.scheduler.run_collector(collector)
            per_collector[collector.name] = sum(sim.request_counts().values())
        events_routes = sim.request_counts()
        registry = built.self_metrics.registry
        endpoints = {
            sample.labels["endpoint"]
            for family in registry.collect()
            if family.name == "capgo_exporter_api_requests"
            for sample in family.samples
        }
    return Cycle(per_collector, events_routes, endpoints)


async def test_a_cycle_costs_what_the_scaling_doc_says_with_events_on() -> None:
    cycle = await _cycle(_sim(orgs=ORGS, apps_per_org=APPS_PER_ORG))
    per_collector = cycle.per_collector
    assert cycle.events_routes == {INSIGHTS: 2 * APPS}  # nothing else, and two per app
    # docs/scaling.md, "requests per run" (every app has fewer than 50 channels and bundles,
    # and fewer than 50,000 devices).
    assert per_collector["inventory"] == 1 + math.ceil(APPS / 50) + 3 * APPS
    assert per_collector["statistics"] == ORGS + 2 * APPS  # usage, then active devices
    assert per_collector["account"] == ORGS + 1
    assert per_collector["devices"] == APPS  # a first walk of fewer than 50,000 devices
    assert per_collector["events"] == 2 * APPS
    # ... and its per-minute figure at the default intervals (devices: one request an app a
    # poll once walked): 1.33 A + 0.08 O + 0.4, which the README's budget advice rests on.
    settings = load_settings({}, environ={}, home=None)
    per_minute = sum(
        count / (settings.interval_for(name) / 60) for name, count in per_collector.items()
    )
    documented = (2 + 3 * APPS) / 5 + (ORGS + 2 * APPS) / 15 + (ORGS + 1) / 60 + 0.6 * APPS
    assert per_minute == pytest.approx(documented)
    assert abs(per_minute - (1.33 * APPS + 0.08 * ORGS + 0.4)) < 0.05 * APPS


async def test_every_route_a_cycle_uses_has_its_series_from_the_start() -> None:
    # Retry and duration series of the routes the exporter polls start at 0, so the first
    # 429 on any of them (the insights route too) counts in rate() and CapgoApiRateLimited.
    # They are the routes the API modules declare as polled: a cycle uses every one of them
    # and no other, so a route polled but declared admin-only (or not polled) fails here.
    endpoints = (await _cycle(_sim(orgs=1, apps_per_org=2))).endpoints
    assert "/private/stats/insights" in endpoints
    assert endpoints == set(EXPORTER_ENDPOINTS)
