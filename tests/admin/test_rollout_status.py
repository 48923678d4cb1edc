"""``admin channel rollout-status``: the simulated Capgo's own evaluation, printed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.sim.autopause import capgo_counts, evaluate_channel
from capgo_exporter.sim.raw_events import RawEvent
from capgo_exporter.sim.timeutil import to_ms
from tests.clock import clock_env, pinned_clock

from .conftest import APP, KEY, Admin


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[Simulator]:
    """The first app's production rollout guarded by auto-pause and failing 10 % of its
    attempts, on the pinned clock the admin command runs on too."""
    clock = pinned_clock()
    simulator = Simulator(
        SimConfig(
            seed=3, orgs=1, apps_per_org=1, devices_per_app=400, keys={KEY: "org_super_admin"}
        ),
        clock=clock.now,
    )
    simulator.run_auto_pause_checks()
    world = simulator.world
    channel = world.channel(APP, "production")
    assert channel is not None
    channel.auto_pause_enabled, channel.auto_pause_failure_rate_bps = True, 500
    rollout = world.bundle_by_id(APP, channel.rollout_version)
    assert rollout is not None
    store = world.devices[APP]
    start = to_ms(clock.now() - timedelta(minutes=30))
    world.raw_events[APP].add(
        RawEvent(start + i, store.device_id(i), "set_fail" if i % 10 == 0 else "set",
                 rollout.name, None, "production")
        for i in range(400)
    )  # fmt: skip
    with simulator.serve_tcp() as url:
        monkeypatch.setenv("CAPGO_API_URL", url)
        monkeypatch.setenv("CAPGO_API_KEY", KEY)
        monkeypatch.setenv("CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE", "100000")
        for name, value in clock_env(clock).items():
            monkeypatch.setenv(name, value)
        yield simulator


def test_prints_capgos_counts_bound_threshold_and_verdict(admin: Admin, sim: Simulator) -> None:
    doc = admin.ok("channel", "rollout-status", APP, "production", "-o", "json").json()
    channel = sim.world.channel(APP, "production")
    assert channel is not None
    capgo = evaluate_channel(sim.world, channel, sim.now())
    assert capgo is not None
    assert capgo.verdict == "trigger"
    assert (doc["attempts"], doc["failures"], doc["verdict"]) == (
        capgo.attempts,
        capgo.failures,
        "trigger",
    )
    assert doc["lower_bound_ratio"] == capgo.lower_bound_bps / 10_000
    assert (doc["threshold_ratio"], doc["window_seconds"], doc["active"]) == (0.05, 3600, True)
    stable = sim.world.bundle_by_id(APP, channel.version)
    assert stable is not None
    assert (doc["stable_attempts"], doc["stable_failures"]) == (0, 0)
    assert capgo_counts(sim.world, channel, stable.name, sim.now()) == (0, 0)


def test_a_table_one_figure_a_line(admin: Admin, sim: Simulator) -> None:
    out = admin.ok("channel", "rollout-status", APP, "production", "-o", "table").out
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["verdict"] == "trigger"
    assert lines["threshold_ratio"] == "0.05"


def test_a_paused_rollout_says_capgo_skips_it(admin: Admin, sim: Simulator) -> None:
    result = admin.ok("channel", "rollout-status", APP, "staging", "-o", "json")
    assert result.json()["active"] is False
    assert "Capgo's check skips it" in result.err


def test_an_unknown_channel_is_capgos_error(admin: Admin, sim: Simulator) -> None:
    result = admin("channel", "rollout-status", APP, "nope")
    assert result.code == 1
    assert "cannot_find_version" in result.err
