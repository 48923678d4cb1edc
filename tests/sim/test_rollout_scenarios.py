"""The --demo account's rollout stories, on the simulated Capgo's own check: one rollout it
pauses during the demo, one that stays near its threshold, one failing with auto-pause off."""

from __future__ import annotations

from datetime import timedelta

import pytest

from capgo_exporter.autopause import parse_pause_reason
from capgo_exporter.daemon import demo_config
from capgo_exporter.sim import Simulator
from capgo_exporter.sim.autopause import due_at_or_before, evaluate_channel
from capgo_exporter.sim.config import SimConfig
from capgo_exporter.sim.model import Channel
from tests.sim.conftest import NOW, FakeClock


def _production(sim: Simulator, app_id: str) -> Channel:
    channel = sim.world.channel(app_id, "production")
    assert channel is not None
    return channel


@pytest.mark.slow  # two simulated hours of checks: about 10 CPU seconds
def test_capgo_pauses_one_leaves_one_near_and_cannot_stop_the_third() -> None:
    clock = FakeClock(NOW)
    sim = Simulator(demo_config(), clock=clock)
    paused, near, unguarded = (_production(sim, a) for a in sim.app_ids()[:3])
    bounds, paused_at = [], None
    for _ in range(24):  # two hours, check by check
        clock.advance(minutes=5)
        sim.run_auto_pause_checks()
        if paused_at is None and paused.rollout_paused_at is not None:
            paused_at = paused.rollout_paused_at
        result = evaluate_channel(sim.world, near, clock.now)
        assert result is not None
        bounds.append(result.lower_bound_bps)
        assert near.rollout_paused_at is None
    # Paused by Capgo's check between 10 and 25 minutes in, with the figures it recorded.
    assert paused_at is not None
    assert timedelta(minutes=10) <= paused_at - due_at_or_before(NOW) <= timedelta(minutes=25)
    recorded = parse_pause_reason(paused.rollout_pause_reason)
    assert recorded is not None
    assert recorded.action == "pause"
    assert recorded.lower_bound_bps >= 500
    # Near: its bound stays between 70 % and 100 % of the 5 % threshold, and Capgo checks it.
    assert 350 <= min(bounds) <= max(bounds) < 500
    assert near.auto_pause_last_checked_at == due_at_or_before(clock.now)
    # Unguarded: failing far above 5 %, and auto-pause is off.
    result = evaluate_channel(sim.world, unguarded, clock.now)
    assert result is not None
    assert (result.verdict, result.lower_bound_bps > 800) == ("disabled", True)
    assert unguarded.auto_pause_last_checked_at is None


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rollout scenario"):
        Simulator(SimConfig(rollout_scenarios={0: "exploding"}), clock=FakeClock(NOW))
