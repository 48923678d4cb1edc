"""Capgo's auto-pause decision, predicted from raw event rows and the device index, against
the simulated Capgo's own evaluation of the same instant."""

from __future__ import annotations

from datetime import timedelta

import pytest

from capgo_exporter.api import CapgoClient
from capgo_exporter.autopause import VERDICTS
from capgo_exporter.collect.base import CollectContext, CollectResult, Discovery
from capgo_exporter.collect.devices.collector import DevicesCollector
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.collect.rollouts import (
    AUTO_PAUSE_VERDICT,
    ROLLOUT_ATTEMPTS,
    ROLLOUT_FAILURES,
    ROLLOUT_LOWER_BOUND,
    STABLE_ATTEMPTS,
    STABLE_FAILURES,
    RolloutsCollector,
)
from capgo_exporter.settings import Settings
from capgo_exporter.sim import Simulator
from capgo_exporter.sim.autopause import capgo_counts, evaluate_channel
from capgo_exporter.sim.model import Channel
from capgo_exporter.sim.raw_events import RawEvent
from capgo_exporter.sim.timeutil import to_ms
from tests.clock import PINNED_NOW, pinned_now

from .conftest import discover, make_settings, values

STATS = "POST /private/stats"


def _kind(sim: Simulator, app_id: str, *, prod: bool, emulator: bool) -> list[str]:
    store = sim.world.devices[app_id]
    return [
        store.device_id(i)
        for i in range(store.count)
        if (store.facts(i).is_prod, store.facts(i).is_emulator) == (prod, emulator)
    ]


def _events(
    sim: Simulator, app_id: str, channel: Channel, bundle: str, spec: dict[str, int]
) -> None:
    """``spec``: (kind, action) counts, as "prod:set": 40; one event a device, a second apart."""
    at = to_ms(PINNED_NOW - timedelta(minutes=50))
    events = []
    for key, count in spec.items():
        kind, action = key.split(":")
        devices = _kind(sim, app_id, prod=kind != "dev", emulator=kind == "emulator")
        for i in range(count):
            at += 1000
            device = devices[i % len(devices)]
            events.append(RawEvent(at, device, action, bundle, None, channel.name))
    sim.world.raw_events[app_id].add(events)


async def _index(client: CapgoClient, settings: Settings, discovery: Discovery) -> DeviceIndex:
    index = DeviceIndex()
    context = CollectContext(client, settings, discovery, now=pinned_now)
    result = await DevicesCollector(settings, index).collect(context)
    assert result.devices is index
    return index


async def _predict(
    client: CapgoClient, settings: Settings, discovery: Discovery, index: DeviceIndex | None,
    rows_limit: int = 50_000,
) -> CollectResult:  # fmt: skip
    context = CollectContext(client, settings, discovery, now=pinned_now, devices=index)
    return await RolloutsCollector(rows_limit=rows_limit).collect(context)


def _setup(sim: Simulator) -> tuple[str, Channel, str, str]:
    # Capgo's check of this instant runs now, before the rollout goes bad: the prediction is
    # of the next one, which would trigger.
    sim.run_auto_pause_checks()
    app_id = sim.app_ids()[0]
    channel = sim.world.channel(app_id, "production")
    assert channel is not None
    channel.auto_pause_enabled = True
    channel.auto_pause_failure_rate_bps = 500
    channel.auto_pause_min_failures = 5
    rollout = sim.world.bundle_by_id(app_id, channel.rollout_version)
    stable = sim.world.bundle_by_id(app_id, channel.version)
    assert rollout is not None
    assert stable is not None
    spec = {"prod:set": 90, "prod:update_fail": 8, "prod:download_fail": 2, "prod:app_crash": 9}
    spec |= {"dev:set_fail": 30, "emulator:unzip_fail": 30}  # not counted
    _events(sim, app_id, channel, rollout.name, spec)
    _events(sim, app_id, channel, stable.name, {"prod:set": 200, "prod:set_fail": 3})
    return app_id, channel, rollout.name, stable.name


@pytest.mark.parametrize("rows_limit", [50_000, 40])
async def test_the_prediction_equals_capgos_evaluation(
    sim: Simulator, client: CapgoClient, rows_limit: int
) -> None:
    app_id, channel, _, stable = _setup(sim)
    settings = make_settings()
    discovery = await discover(client, settings)
    index = await _index(client, settings, discovery)
    sim.reset_request_counts()
    result = await _predict(client, settings, discovery, index, rows_limit=rows_limit)
    apps_with_rollouts = len(sim.app_ids())  # production rolls out in each; staging is paused
    if rows_limit == 50_000:
        assert sim.request_counts() == {STATS: apps_with_rollouts}
    else:  # full answers are split until each part is under the limit: more requests
        assert sim.request_counts()[STATS] > apps_with_rollouts
    expected = evaluate_channel(sim.world, channel, PINNED_NOW)
    assert expected is not None
    assert (expected.attempts, expected.failures, expected.verdict) == (100, 10, "trigger")
    key = (app_id, "production")
    s = result.samples
    assert values(s, ROLLOUT_ATTEMPTS)[key] == 100
    assert values(s, ROLLOUT_FAILURES)[key] == 10
    assert values(s, ROLLOUT_LOWER_BOUND)[key] == 0.0552
    verdicts = {k[2]: v for k, v in values(s, AUTO_PAUSE_VERDICT).items() if k[:2] == key}
    assert verdicts == {verdict: float(verdict == "trigger") for verdict in VERDICTS}
    assert capgo_counts(sim.world, channel, stable, PINNED_NOW) == (200, 3)
    assert (values(s, STABLE_ATTEMPTS)[key], values(s, STABLE_FAILURES)[key]) == (203, 3)
    # Every other app's production rollout is predicted too: nothing reported, auto-pause off.
    others = {k: v for k, v in values(s, ROLLOUT_ATTEMPTS).items() if k[0] != app_id}
    assert set(others.values()) == {0}
    assert len(others) == apps_with_rollouts - 1
    assert not any(k[1] == "staging" for k in values(s, ROLLOUT_ATTEMPTS))  # paused
    index.close()


async def test_without_the_device_index_only_the_policy(
    sim: Simulator, client: CapgoClient
) -> None:
    _setup(sim)
    settings = make_settings()
    discovery = await discover(client, settings)
    sim.reset_request_counts()
    result = await _predict(client, settings, discovery, None)
    assert sim.request_counts() == {}
    assert values(result.samples, ROLLOUT_ATTEMPTS) == {}
    assert values(result.samples, AUTO_PAUSE_VERDICT) == {}


async def test_an_app_whose_events_capgo_refuses_is_skipped(
    sim: Simulator, client: CapgoClient
) -> None:
    app_id, *_ = _setup(sim)
    settings = make_settings()
    discovery = await discover(client, settings)
    index = await _index(client, settings, discovery)
    app = sim.world.app(app_id)
    assert app is not None
    with sim.world.lock:
        app.deleted = True  # Capgo answers app_access_denied for it now
    result = await _predict(client, settings, discovery, index)
    assert result.skipped == (f"rollouts:{app_id}",)
    assert {k[0] for k in values(result.samples, ROLLOUT_ATTEMPTS)} == set(sim.app_ids())
    index.close()
