"""The simulated Capgo's auto-pause check: every 5 minutes, Capgo's counts and decision, the
channel fields Capgo writes."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from capgo_exporter.autopause import pause_reason
from capgo_exporter.sim import Simulator, autopause
from capgo_exporter.sim.autopause import capgo_counts, due_at_or_before, evaluate_channel
from capgo_exporter.sim.model import Channel
from capgo_exporter.sim.raw_events import RawEvent
from capgo_exporter.sim.state import World
from capgo_exporter.sim.timeutil import to_ms
from tests.sim.conftest import APP, NOW, FakeClock, client_for


def _production(sim: Simulator, **policy: object) -> Channel:
    channel = sim.world.channel(APP, "production")
    assert channel is not None
    assert channel.rollout_enabled
    channel.auto_pause_enabled = True
    channel.auto_pause_failure_rate_bps = 500
    for name, value in policy.items():
        setattr(channel, f"auto_pause_{name}", value)
    return channel


def _devices(sim: Simulator, *, prod: bool, emulator: bool, n: int) -> list[str]:
    """``n`` devices of that kind, a device coming back when there are fewer."""
    store = sim.world.devices[APP]
    kind = [
        store.device_id(index)
        for index in range(store.count)
        if store.facts(index).is_prod == prod and store.facts(index).is_emulator == emulator
    ]
    assert kind, "no device of that kind"
    return [kind[i % len(kind)] for i in range(n)]


def _attempts(
    sim: Simulator, channel: Channel, installs: int, failures: int, *, at_ms: int, **kind: bool
) -> None:
    bundle = sim.world.bundle_by_id(APP, channel.rollout_version)
    assert bundle is not None
    devices = _devices(sim, n=installs + failures, **kind)
    events = [
        RawEvent(at_ms + i, device, "set" if i < installs else "update_fail", bundle.name, None,
                 channel.name)
        for i, device in enumerate(devices)
    ]  # fmt: skip
    sim.world.raw_events[APP].add(events)


def test_checks_run_every_five_minutes_and_record_the_time(
    clock: FakeClock, sim: Simulator
) -> None:
    channel = _production(sim)
    sim.run_auto_pause_checks()
    assert channel.auto_pause_last_checked_at == due_at_or_before(NOW)
    clock.advance(minutes=12)
    sim.run_auto_pause_checks()
    assert channel.auto_pause_last_checked_at == due_at_or_before(NOW + timedelta(minutes=12))
    assert channel.auto_pause_last_checked_at.minute % 5 == 0
    assert channel.rollout_paused_at is None


def test_a_failing_rollout_is_paused_with_capgos_reason(clock: FakeClock, sim: Simulator) -> None:
    channel = _production(sim, min_attempts=50)
    sim.run_auto_pause_checks()
    _attempts(sim, channel, 90, 10, at_ms=to_ms(NOW) + 1000, prod=True, emulator=False)
    tick = due_at_or_before(NOW) + timedelta(minutes=5)
    expected = evaluate_channel(sim.world, channel, tick)
    assert expected is not None
    assert (expected.attempts, expected.lower_bound_bps, expected.verdict) == (100, 552, "trigger")
    clock.advance(minutes=5)
    with client_for(sim) as client:  # any request runs the checks that fell due
        assert client.get("/ok").status_code == 200
        assert client.get("/channel", params={"app_id": APP}).status_code == 200
    assert channel.rollout_paused_at == tick
    assert channel.auto_pause_last_triggered_at == tick
    assert channel.auto_pause_last_checked_at == tick
    bundle = sim.world.bundle_by_id(APP, channel.rollout_version)
    assert bundle is not None
    assert channel.rollout_pause_reason == pause_reason("production", bundle.name, expected)


@pytest.mark.parametrize("action", ["rollback", "notify"])
def test_rollback_and_notify(clock: FakeClock, sim: Simulator, action: str) -> None:
    channel = _production(sim, action=action)
    stable = channel.version
    _attempts(sim, channel, 90, 10, at_ms=to_ms(NOW) - 60_000, prod=True, emulator=False)
    sim.run_auto_pause_checks()
    assert channel.auto_pause_last_triggered_at == due_at_or_before(NOW)
    assert channel.rollout_pause_reason is not None
    assert channel.rollout_pause_reason.startswith(f"Auto-pause {action} for production")
    assert channel.rollout_paused_at is None
    assert channel.version == stable
    if action == "rollback":
        assert (channel.rollout_enabled, channel.rollout_percentage_bps) == (False, 0)
        assert channel.rollout_version is None
    else:
        assert channel.rollout_enabled
        assert channel.rollout_version is not None
        # Within the cooldown, the next check does not act again.
        clock.advance(minutes=5)
        sim.run_auto_pause_checks()
        assert channel.auto_pause_last_triggered_at == due_at_or_before(NOW)


def test_only_the_channels_production_devices_count(sim: Simulator) -> None:
    channel = _production(sim)
    at = to_ms(NOW) - 120_000
    _attempts(sim, channel, 5, 5, at_ms=at, prod=False, emulator=False)
    _attempts(sim, channel, 5, 5, at_ms=at + 100, prod=True, emulator=True)
    _attempts(sim, channel, 7, 3, at_ms=at + 200, prod=True, emulator=False)
    beta = sim.world.channel(APP, "beta")
    assert beta is not None
    bundle = sim.world.bundle_by_id(APP, channel.rollout_version)
    assert bundle is not None
    device = _devices(sim, prod=True, emulator=False, n=1)[0]
    sim.world.raw_events[APP].add(
        [RawEvent(at + 300, device, "set_fail", bundle.name, None, "beta")]
    )
    assert capgo_counts(sim.world, channel, bundle.name, NOW) == (7, 3)
    # Outside the window: not counted.
    late = NOW - timedelta(minutes=60, milliseconds=1)
    assert capgo_counts(sim.world, channel, bundle.name, late + timedelta(minutes=58)) == (0, 0)


def test_post_channel_sets_the_policy(sim: Simulator, client: httpx.Client) -> None:
    body = {
        "app_id": APP,
        "channel": "production",
        "autoPauseEnabled": True,
        "autoPauseFailureRateBps": 300,
        "auto_pause_confidence": 0.99,
        "autoPauseAction": "rollback",
    }
    assert client.post("/channel", json=body).status_code == 200
    channel = sim.world.channel(APP, "production")
    assert channel is not None
    assert (channel.auto_pause_enabled, channel.auto_pause_failure_rate_bps) == (True, 300)
    assert (channel.auto_pause_confidence, channel.auto_pause_action) == (0.99, "rollback")
    got = client.get("/channel", params={"app_id": APP, "channel": "production"}).json()
    assert (got["autoPauseFailureRateBps"], got["autoPauseAction"]) == (300, "rollback")
    for bad in ({"autoPauseConfidence": 1}, {"autoPauseAction": "explode"}):
        r = client.post("/channel", json={"app_id": APP, "channel": "production", **bad})
        assert (r.status_code, r.json()["error"]) == (400, "invalid_rollout_config")


def test_a_jump_of_days_runs_the_last_hours_checks_only(
    clock: FakeClock, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = _production(sim)
    sim.run_auto_pause_checks()
    clock.advance(days=3, minutes=2)
    checks: list[datetime] = []
    real_check = autopause.check

    def counting(world: World, at: datetime) -> int:
        checks.append(at)
        return real_check(world, at)

    monkeypatch.setattr(autopause, "check", counting)
    sim.run_auto_pause_checks()
    assert len(checks) == 13  # every 5 minutes over the last hour, both ends included
    assert checks[-1] == due_at_or_before(clock.now)
    assert channel.auto_pause_last_checked_at == checks[-1]
