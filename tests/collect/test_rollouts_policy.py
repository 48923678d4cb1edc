"""Capgo's auto-pause policy and state, from the channel objects inventory already fetched."""

from __future__ import annotations

from datetime import timedelta

from capgo_exporter.api import CapgoClient
from capgo_exporter.collect.rollouts import (
    AUTO_PAUSE_ACTION,
    AUTO_PAUSE_CONFIDENCE,
    AUTO_PAUSE_COOLDOWN,
    AUTO_PAUSE_ENABLED,
    AUTO_PAUSE_LAST_CHECKED,
    AUTO_PAUSE_LAST_TRIGGERED,
    AUTO_PAUSE_MIN_ATTEMPTS,
    AUTO_PAUSE_MIN_FAILURES,
    AUTO_PAUSE_THRESHOLD,
    AUTO_PAUSE_WINDOW,
    TRIGGERED_ATTEMPTS,
    TRIGGERED_FAILURE_RATIO,
    TRIGGERED_LOWER_BOUND,
    RolloutsCollector,
)
from capgo_exporter.metrics import MetricSpec
from capgo_exporter.sim import Simulator
from tests.clock import PINNED_NOW

from .conftest import discover, make_settings, run, values

REASON = (
    "Auto-pause rollback for staging rollout 1.2.3: fail 1176bps, confidence lower bound "
    "992bps, threshold 500bps, attempts 1020."
)


def _configure(sim: Simulator) -> str:
    """The first app: production's rollout guarded by auto-pause; staging's rollout rolled
    back by it; beta has no rollout. Capgo's check of this instant has run already."""
    sim.run_auto_pause_checks()
    app_id = sim.app_ids()[0]
    with sim.world.lock:
        production = sim.world.channel(app_id, "production")
        staging = sim.world.channel(app_id, "staging")
        assert production is not None
        assert staging is not None
        production.auto_pause_enabled = True
        production.auto_pause_failure_rate_bps = 500
        production.auto_pause_confidence = 0.99
        production.auto_pause_window_minutes = 30
        production.auto_pause_min_attempts = 200
        production.auto_pause_action = "notify"
        production.auto_pause_cooldown_minutes = 120
        production.auto_pause_last_checked_at = PINNED_NOW - timedelta(minutes=3)
        staging.rollout_enabled, staging.rollout_version = False, None
        staging.rollout_percentage_bps, staging.rollout_paused_at = 0, None
        staging.rollout_pause_reason = REASON
        staging.auto_pause_enabled = True
        staging.auto_pause_failure_rate_bps = None
        staging.auto_pause_min_attempts = staging.auto_pause_min_failures = None
        staging.auto_pause_last_checked_at = None
        staging.auto_pause_action = "rollback"
        staging.auto_pause_window_minutes = 0  # Capgo reads it as 60
        staging.auto_pause_last_triggered_at = PINNED_NOW - timedelta(hours=1)
    return app_id


async def test_policy_and_state_of_each_channel_with_a_rollout(
    sim: Simulator, client: CapgoClient
) -> None:
    app_id = _configure(sim)
    settings = make_settings()
    discovery = await discover(client, settings)
    sim.reset_request_counts()
    samples = (await run(RolloutsCollector(), client, settings, discovery)).samples
    assert sim.request_counts() == {}  # the channel objects inventory fetched: no request

    def of_app(spec: MetricSpec) -> dict[tuple[str, ...], float]:
        return {k: v for k, v in values(samples, spec).items() if k[0] == app_id}

    prod, staging = (app_id, "production"), (app_id, "staging")
    assert of_app(AUTO_PAUSE_ENABLED) == {prod: 1, staging: 1}  # beta has no rollout
    assert of_app(AUTO_PAUSE_THRESHOLD) == {prod: 0.05}  # staging's is null: absent
    assert of_app(AUTO_PAUSE_CONFIDENCE) == {prod: 0.99, staging: 0.95}
    assert of_app(AUTO_PAUSE_WINDOW) == {prod: 1800, staging: 3600}
    assert of_app(AUTO_PAUSE_MIN_ATTEMPTS) == {prod: 200}
    assert of_app(AUTO_PAUSE_MIN_FAILURES) == {}
    assert of_app(AUTO_PAUSE_COOLDOWN) == {prod: 7200, staging: 3600}
    assert of_app(AUTO_PAUSE_ACTION) == {
        (*prod, "pause"): 0,
        (*prod, "rollback"): 0,
        (*prod, "notify"): 1,
        (*staging, "pause"): 0,
        (*staging, "rollback"): 1,
        (*staging, "notify"): 0,
    }
    checked = (PINNED_NOW - timedelta(minutes=3)).timestamp()
    assert of_app(AUTO_PAUSE_LAST_CHECKED) == {prod: checked}
    assert of_app(AUTO_PAUSE_LAST_TRIGGERED) == {
        staging: (PINNED_NOW - timedelta(hours=1)).timestamp()
    }
    assert of_app(TRIGGERED_FAILURE_RATIO) == {staging: 0.1176}
    assert of_app(TRIGGERED_LOWER_BOUND) == {staging: 0.0992}
    assert of_app(TRIGGERED_ATTEMPTS) == {staging: 1020}


async def test_a_pause_by_hand_has_no_triggered_figures(
    sim: Simulator, client: CapgoClient
) -> None:
    app_id = sim.app_ids()[0]
    staging = sim.world.channel(app_id, "staging")
    assert staging is not None
    staging.rollout_pause_reason = "failure rate above threshold"
    settings = make_settings()
    discovery = await discover(client, settings)
    samples = (await run(RolloutsCollector(), client, settings, discovery)).samples
    # The generated staging rollouts were paused by Capgo's auto-pause two days ago; the first
    # app's has another reason now, as when someone paused it by hand.
    triggered = values(samples, TRIGGERED_ATTEMPTS)
    assert triggered == {(a, "staging"): 900 for a in sim.app_ids() if a != app_id}
    assert set(values(samples, AUTO_PAUSE_ENABLED).values()) == {0, 1}
    assert {k[1] for k in values(samples, AUTO_PAUSE_THRESHOLD)} == {"staging"}
