"""The inventory collector against the simulator's ground truth."""

from __future__ import annotations

import pytest

from capgo_exporter.api import CapgoClient
from capgo_exporter.collect.gate import PermissionGate
from capgo_exporter.collect.inventory import (
    APP_BUNDLE_USAGE,
    APP_BUNDLES,
    APP_INFO,
    APP_LATEST_BUNDLE_CREATED,
    BUNDLE_CREATED,
    CHANNEL_INFO,
    CHANNEL_ROLLOUT,
    CHANNEL_ROLLOUT_PAUSED,
    CHANNEL_UPDATED,
    ORG_INFO,
    InventoryCollector,
)
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import pinned_now

from .conftest import make_settings, run, sim_client, values


def _flag(value: bool) -> str:
    return "true" if value else "false"


async def test_inventory_equals_ground_truth(sim: Simulator, client: CapgoClient) -> None:
    settings = make_settings(bundles_per_app=3)
    result = await run(InventoryCollector(), client, settings, None)
    truth = sim.truth()
    s = result.samples

    assert values(s, ORG_INFO) == {(o.id, o.name): 1 for o in truth.orgs}
    apps = [a for o in truth.orgs for a in o.apps]
    assert values(s, APP_INFO) == {(a.org_id, a.app_id, a.name): 1 for a in apps}
    assert values(s, APP_BUNDLES) == {(a.app_id,): a.bundles for a in apps}
    # The API serves milliseconds; the truth keeps microseconds.
    assert values(s, APP_LATEST_BUNDLE_CREATED) == pytest.approx(
        {
            (a.app_id,): a.latest_bundle_created.timestamp()
            for a in apps
            if a.latest_bundle_created is not None
        },
        abs=1e-3,
    )
    newest = {
        (a.app_id, name): when.timestamp()
        for a in apps
        for name, when in sorted(a.bundle_created.items(), key=lambda kv: kv[1], reverse=True)[:3]
    }
    assert values(s, BUNDLE_CREATED) == pytest.approx(newest, abs=1e-3)
    # Capgo sends percentages with two decimals.
    assert values(s, APP_BUNDLE_USAGE) == pytest.approx(
        {(a.app_id, b): r for a in apps for b, r in a.bundle_usage.items() if r > 0}, abs=1e-4
    )
    expected_info = {
        (
            a.app_id, c.name, c.bundle or "none", _flag(c.public), _flag(c.allow_dev),
            _flag(c.allow_emulator), _flag(c.allow_prod), _flag(c.allow_device_self_set),
            c.disable_auto_update,
        ): 1
        for a in apps
        for c in a.channels
    }  # fmt: skip
    assert values(s, CHANNEL_INFO) == expected_info
    assert values(s, CHANNEL_UPDATED) == pytest.approx(
        {(a.app_id, c.name): c.updated_at.timestamp() for a in apps for c in a.channels}, abs=1e-3
    )
    rollouts = [(a.app_id, c) for a in apps for c in a.channels if c.rollout_ratio is not None]
    assert rollouts, "the simulated dataset has rollouts"
    assert values(s, CHANNEL_ROLLOUT) == {(app, c.name): c.rollout_ratio for app, c in rollouts}
    assert values(s, CHANNEL_ROLLOUT_PAUSED) == {
        (app, c.name): float(c.rollout_paused) for app, c in rollouts
    }
    assert any(c.rollout_paused for _, c in rollouts), "one rollout is paused"


async def test_discovery_lists_orgs_apps_and_channels(sim: Simulator, client: CapgoClient) -> None:
    settings = make_settings()
    result = await run(InventoryCollector(), client, settings, None)
    assert result.discovery is not None
    truth = sim.truth()
    assert {o.id for o in result.discovery.orgs} == {o.id for o in truth.orgs}
    assert {a.app_id for a in result.discovery.apps} == {
        a.app_id for o in truth.orgs for a in o.apps
    }
    for org in truth.orgs:
        for app in org.apps:
            names = {c.name for c in result.discovery.channels[app.app_id]}
            assert names == {c.name for c in app.channels}


async def test_allow_and_deny_lists(sim: Simulator, client: CapgoClient) -> None:
    truth = sim.truth()
    first, second = truth.orgs
    denied_app = first.apps[0].app_id
    settings = make_settings(orgs_allow=first.id, apps_deny=denied_app)
    result = await run(InventoryCollector(), client, settings, None)
    assert result.discovery is not None
    assert [o.id for o in result.discovery.orgs] == [first.id]
    listed = {a.app_id for a in result.discovery.apps}
    assert listed == {a.app_id for a in first.apps} - {denied_app}
    assert all(labels[1] != denied_app for labels in values(result.samples, APP_INFO))
    assert all(labels[0] != second.id for labels in values(result.samples, ORG_INFO))


async def test_minimum_requests_per_poll(sim: Simulator, client: CapgoClient) -> None:
    settings = make_settings()
    await run(InventoryCollector(), client, settings, None)
    apps = len(sim.app_ids())
    counts = sim.request_counts()
    # One request for orgs, one for apps, and per app one for channels, bundles and usage.
    assert counts["GET /organization"] == 1
    assert counts["GET /app"] == 1
    assert counts["GET /channel"] == apps
    assert counts["GET /bundle"] == apps
    assert counts["GET /statistics/app/{app_id}/bundle_usage"] == apps


async def test_deleted_bundle_disappears_on_the_next_run(
    sim: Simulator, client: CapgoClient
) -> None:
    settings = make_settings(bundles_per_app=1000)
    collector = InventoryCollector()
    app = sim.truth().orgs[0].apps[0]
    first = await run(collector, client, settings, None)
    linked = {c.bundle for c in app.channels} | {None}
    victim = next(name for name in app.bundle_created if name not in linked)
    await client.bundles.delete(app.app_id, victim)
    second = await run(collector, client, settings, None)
    assert (app.app_id, victim) in values(first.samples, BUNDLE_CREATED)
    assert (app.app_id, victim) not in values(second.samples, BUNDLE_CREATED)
    assert values(second.samples, APP_BUNDLES)[(app.app_id,)] == app.bundles - 1


async def test_a_refused_part_is_skipped_logged_once_and_the_rest_collected() -> None:
    # Org 0 does not pay: its bundle usage (a statistics route) answers 402.
    sim = Simulator(
        SimConfig(
            seed=3,
            orgs=2,
            apps_per_org=1,
            devices_per_app=10,
            keys={"demo": "org_super_admin"},
            unpaid_orgs=frozenset({0}),
        ),
        clock=pinned_now,
    )
    client = sim_client(sim)
    settings = make_settings()
    gate = PermissionGate()
    collector = InventoryCollector(gate=gate)
    unpaid, paid = sim.truth().orgs
    first = await run(collector, client, settings, None)
    second = await run(collector, client, settings, None)
    await client.aclose()
    unpaid_app, paid_app = unpaid.apps[0].app_id, paid.apps[0].app_id
    assert gate.closed == [f"bundle_usage:{unpaid_app}"]
    usage_apps = {labels[0] for labels in values(first.samples, APP_BUNDLE_USAGE)}
    assert usage_apps == {paid_app}
    # Everything else of the unpaid org is still collected.
    assert (unpaid_app,) in values(first.samples, APP_BUNDLES)
    # The refused part is not asked again on the next run (retried only after an hour).
    assert sim.status_counts().get("GET /statistics/app/{app_id}/bundle_usage 402") == 1
    assert values(second.samples, APP_BUNDLES) == values(first.samples, APP_BUNDLES)
