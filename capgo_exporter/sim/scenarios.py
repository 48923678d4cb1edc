"""Rollout stories for generated apps: an auto-pause policy on the production channel and the
install traffic of its rollout and stable bundles (``SimConfig.rollout_scenarios``).

- ``paused``: auto-pause on (5 % at 95 % confidence over 15 minutes, at least 100 attempts
  and 10 failures, pause); the rollout bundle fails 1 % of its attempts until 5 minutes after
  the world starts, then 20 %: Capgo's check pauses it within about 15 minutes;
- ``near``: auto-pause on (5 %, 60 minutes); the rollout fails 4.5 % of its attempts (about
  120 a minute): the lower bound stays around 80 % of the threshold, and Capgo never acts;
- ``unguarded``: auto-pause off; the rollout fails 12 % of its attempts.

Each stable bundle fails 1 % of its attempts. The traffic comes from the app's devices as they
are (production or not, emulators or not): Capgo counts only production devices that are not
emulators.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from capgo_exporter.autopause import Policy, evaluate, pause_reason
from capgo_exporter.sim.model import App, Channel
from capgo_exporter.sim.raw_events import Phase, Stream, Traffic
from capgo_exporter.sim.state import World
from capgo_exporter.sim.timeutil import to_ms

SCENARIOS: Final = ("paused", "near", "unguarded")
_GOES_BAD_AFTER: Final = timedelta(minutes=5)
_STABLE_PER_MINUTE: Final = 40
_HEALTHY_BPS: Final = 100


def _policy(channel: Channel, scenario: str) -> None:
    if scenario == "unguarded":
        return
    channel.auto_pause_enabled = True
    channel.auto_pause_failure_rate_bps = 500
    channel.auto_pause_action = "pause"
    if scenario == "paused":
        channel.auto_pause_window_minutes = 15
        channel.auto_pause_min_attempts = 100
        channel.auto_pause_min_failures = 10


def _rollout_stream(bundle: str, scenario: str, start: datetime) -> Stream:
    if scenario == "paused":
        bad_from = to_ms(start + _GOES_BAD_AFTER)
        return Stream(bundle, 20, (Phase(0, _HEALTHY_BPS), Phase(bad_from, 2_000)))
    if scenario == "near":
        return Stream(bundle, 120, (Phase(0, 450),))
    return Stream(bundle, 20, (Phase(0, 1_200),))


def apply_scenario(world: World, app: App, scenario: str, start: datetime) -> None:
    """Give the app's production rollout ``scenario``'s policy and traffic."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown rollout scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
    channel = world.channel(app.app_id, "production")
    if channel is None or not channel.rollout_enabled:
        return
    rollout = world.bundle_by_id(app.app_id, channel.rollout_version)
    stable = world.bundle_by_id(app.app_id, channel.version)
    if rollout is None or stable is None:
        return
    _policy(channel, scenario)
    streams = (
        _rollout_stream(rollout.name, scenario, start),
        Stream(stable.name, _STABLE_PER_MINUTE, (Phase(0, _HEALTHY_BPS),)),
    )
    traffic = Traffic(
        salt=app.salt, channel=channel.name, devices=world.devices[app.app_id], streams=streams
    )
    world.raw_events[app.app_id].traffic.append(traffic)


def paused_by_capgo(channel: Channel, bundle: str, at: datetime) -> None:
    """A rollout Capgo's auto-pause paused at ``at`` (5 % at 95 %, at least 100 attempts and
    10 failures), with the reason it writes: 82 failures in 900 attempts."""
    channel.auto_pause_enabled = True
    channel.auto_pause_failure_rate_bps = 500
    channel.auto_pause_min_attempts = 100
    channel.auto_pause_min_failures = 10
    result = evaluate(Policy(enabled=True, threshold_bps=500), 818, 82, at)
    channel.rollout_paused_at = at
    channel.auto_pause_last_checked_at = channel.auto_pause_last_triggered_at = at
    channel.rollout_pause_reason = pause_reason(channel.name, bundle, result)
