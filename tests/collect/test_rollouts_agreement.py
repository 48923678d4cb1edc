"""Agreement: over 1,080 generated rollouts, the exporter's prediction (raw rows through the
API, devices through its index) equals the simulated Capgo's own evaluation of the same
instant, in every case: attempts, failures, lower bound, verdict, and the stable bundle's
counts.

The rollouts vary in everything Capgo's decision reads: counts (0 to 250 attempts, failure
rates up to 40 %), confidence (0.5 to 0.999), threshold (none, 0 to 30 %), minimums,
cooldowns and their last trigger, windows (0 = 60 minutes, 5 minutes to 2 hours), actions;
their events come from production, development and emulator devices, spread over three hours
(some exactly on a window's edges, some after now), next to events of other actions. The
exporter asks for 5,000 rows at a time, so full answers are split and asked again: counts stay
exact.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from capgo_exporter.autopause import FAILURE_ACTIONS
from capgo_exporter.collect.base import CollectContext
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
from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.sim.autopause import capgo_counts, evaluate_channel
from capgo_exporter.sim.model import Bundle, Channel
from capgo_exporter.sim.raw_events import RawEvent
from capgo_exporter.sim.state import World
from capgo_exporter.sim.timeutil import to_ms
from tests.clock import PINNED_NOW, pinned_now

from .conftest import KEY, discover, make_settings, sim_client, values

APPS, ROLLOUTS_PER_APP = 12, 90
NOW = PINNED_NOW
SPAN_MS = 3 * 3_600_000  # events over the last three hours
OTHER_ACTIONS = ("get", "app_crash", "download_complete", "webview_javascript_error")


def _bundle(world: World, app_id: str, name: str) -> Bundle:
    app = world.app(app_id)
    assert app is not None
    bundle = Bundle(
        id=world.new_id(),
        app_id=app_id,
        name=name,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
        size=1000,
        checksum=name,
        owner_org=app.owner_org,
        user_id=world.account_uid,
    )
    world.bundles[app_id].append(bundle)
    return bundle


def _policy(channel: Channel, rng: random.Random) -> None:
    channel.auto_pause_enabled = rng.random() < 0.85
    channel.auto_pause_failure_rate_bps = None if rng.random() < 0.1 else rng.randint(0, 3000)
    channel.auto_pause_confidence = rng.choice(
        (0.8, 0.9, 0.95, 0.95, 0.975, 0.99, 0.999, round(rng.uniform(0.5, 0.9999), 4))
    )
    channel.auto_pause_window_minutes = rng.choice((0, 5, 15, 30, 60, 60, 120))
    channel.auto_pause_min_attempts = rng.choice((None, None, rng.randint(0, 300)))
    channel.auto_pause_min_failures = rng.choice((None, None, rng.randint(0, 30)))
    channel.auto_pause_action = rng.choice(("pause", "rollback", "notify"))
    channel.auto_pause_cooldown_minutes = rng.choice((0, 30, 60, 240))
    if rng.random() < 0.3:
        channel.auto_pause_last_triggered_at = NOW - timedelta(minutes=rng.randint(0, 300))


class Fleet:
    """Device ids of an app by kind, and distinct milliseconds for its events."""

    def __init__(self, world: World, app_id: str, rng: random.Random) -> None:
        store = world.devices[app_id]
        self.kinds: dict[str, list[str]] = {"prod": [], "dev": [], "emulator": []}
        for index in range(store.count):
            facts = store.facts(index)
            kind = "emulator" if facts.is_emulator else "prod" if facts.is_prod else "dev"
            self.kinds[kind].append(store.device_id(index))
        self.rng = rng
        self.used: set[int] = set()

    def device(self) -> str:
        roll = self.rng.random()
        kind = "prod" if roll < 0.7 else "dev" if roll < 0.85 else "emulator"
        return self.rng.choice(self.kinds[kind])

    def moment(self, window_minutes: int) -> int:
        """A distinct instant: mostly within three hours, some on the window's edges."""
        now, window = to_ms(NOW), (window_minutes or 60) * 60_000
        while True:
            roll = self.rng.random()
            if roll < 0.02:
                at = self.rng.choice((now - window, now - window - 1, now, now - 1))
            elif roll < 0.05:
                at = now + self.rng.randint(0, 300_000)  # after now: never counted
            else:
                at = now - self.rng.randint(1, SPAN_MS)
            if at not in self.used:
                self.used.add(at)
                return at


def _events(
    fleet: Fleet, channel: Channel, bundle: str, installs: int, rate: float
) -> list[RawEvent]:
    events = []
    window = channel.auto_pause_window_minutes
    for _ in range(installs):
        action = rng_action(fleet.rng, rate)
        events.append(
            RawEvent(fleet.moment(window), fleet.device(), action, bundle, None, channel.name)
        )
    return events


def rng_action(rng: random.Random, rate: float) -> str:
    roll = rng.random()
    if roll < rate:
        return rng.choice(FAILURE_ACTIONS)
    if roll < rate + 0.1:
        return rng.choice(OTHER_ACTIONS)
    return "set"


def _generate(sim: Simulator, seed: int) -> list[tuple[str, Channel, str]]:
    """The rollouts: (app, channel, stable bundle name)."""
    rng = random.Random(seed)
    world = sim.world
    made = []
    for app_id in sim.app_ids():
        fleet, events = Fleet(world, app_id, rng), []
        for number in range(ROLLOUTS_PER_APP):
            rollout = _bundle(world, app_id, f"9.{number}.1")
            stable = _bundle(world, app_id, f"9.{number}.0")
            channel = Channel(
                id=world.new_id(),
                app_id=app_id,
                name=f"ring-{number}",
                created_at=NOW - timedelta(days=1),
                updated_at=NOW - timedelta(days=1),
                created_by=world.account_uid,
                version=stable.id,
                public=False,
                rollout_version=rollout.id,
                rollout_enabled=True,
                rollout_percentage_bps=rng.randint(1, 10_000),
            )
            _policy(channel, rng)
            world.channels[app_id].append(channel)
            rate = rng.choice((0.0, 0.01, 0.03, 0.05, 0.08, 0.15, 0.4))
            events += _events(fleet, channel, rollout.name, rng.randint(0, 250), rate)
            events += _events(fleet, channel, stable.name, rng.randint(0, 120), 0.02)
            made.append((app_id, channel, stable.name))
        world.raw_events[app_id].add(events)
    return made


@pytest.mark.slow
async def test_the_exporter_agrees_with_capgo_on_every_rollout() -> None:
    config = SimConfig(seed=22, orgs=2, apps_per_org=APPS // 2, devices_per_app=1500,
                       keys={KEY: "org_super_admin"})  # fmt: skip
    sim = Simulator(config, clock=pinned_now)
    sim.run_auto_pause_checks()  # Capgo's check of this instant ran before the rollouts began
    rollouts = _generate(sim, seed=2026)
    assert len(rollouts) >= 1000
    client = sim_client(sim)
    settings = make_settings()
    discovery = await discover(client, settings)
    index = DeviceIndex()
    context = CollectContext(client, settings, discovery, now=pinned_now)
    await DevicesCollector(settings, index).collect(context)
    sim.reset_request_counts()
    context = CollectContext(client, settings, discovery, now=pinned_now, devices=index)
    result = await RolloutsCollector(rows_limit=5000).collect(context)
    requests = sim.request_counts()["POST /private/stats"]
    s = result.samples
    verdicts = {k[:2]: k[2] for k, v in values(s, AUTO_PAUSE_VERDICT).items() if v == 1}
    attempts, failures, bounds = (
        values(s, spec) for spec in (ROLLOUT_ATTEMPTS, ROLLOUT_FAILURES, ROLLOUT_LOWER_BOUND)
    )
    stable_attempts, stable_failures = values(s, STABLE_ATTEMPTS), values(s, STABLE_FAILURES)
    seen: Counter[str] = Counter()
    for app_id, channel, stable in rollouts:
        capgo = evaluate_channel(sim.world, channel, NOW)
        assert capgo is not None
        key = (app_id, channel.name)
        exported = (
            attempts[key],
            failures[key],
            round(bounds[key] * 10_000),
            verdicts[key],
            (stable_attempts[key], stable_failures[key]),
        )
        installed, failed = capgo_counts(sim.world, channel, stable, NOW)
        truth = (capgo.attempts, capgo.failures, capgo.lower_bound_bps, capgo.verdict,
                 (installed + failed, failed))  # fmt: skip
        assert exported == truth, (key, channel)
        seen[capgo.verdict] += 1
    print(f"\n{len(rollouts)} rollouts agree; verdicts {dict(seen)}; {requests} requests")
    assert set(seen) == {
        "disabled", "missing_threshold", "cooldown", "insufficient_attempts",
        "insufficient_failures", "below_threshold", "trigger",
    }  # fmt: skip
    index.close()
    await client.aclose()
