"""The simulated Capgo's rollout auto-pause check (``triggers/cron_rollout_auto_pause.ts``).

Capgo queues the check every 5 minutes (when the minute is a multiple of 5). The simulator has
no background task: before it answers a request, it runs every check that fell due since the
last one, each at its own instant, so what a client sees is what Capgo would show at that
moment however the simulated clock moves (after a jump of more than an hour, only the last
hour's checks run, as if Capgo's cron had been down before). The world's first check is the one
at or before its creation.

A check evaluates every channel with a rollout enabled, auto-pause enabled, a share above 0, a
rollout bundle and no pause: the counts over its window ending at the check, from the events
Capgo attributed to the channel, of production devices that are not emulators, and the
decision `capgo_exporter.autopause.evaluate` makes (the same code the exporter predicts with).
Then it writes what Capgo writes: the time of the check; when it triggers, the time, the reason
and the action's change (pause: paused now; rollback: rollout disabled, 0 %, no rollout
bundle; notify: nothing more).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from capgo_exporter.autopause import (
    CHECK_EVERY_MINUTES,
    Evaluation,
    Policy,
    action_of,
    effective_window_minutes,
    evaluate,
    is_failure,
    pause_reason,
)
from capgo_exporter.autopause import INSTALL_ACTION as _INSTALL
from capgo_exporter.sim.model import Channel
from capgo_exporter.sim.state import World
from capgo_exporter.sim.timeutil import to_ms

CHECK_EVERY: Final = timedelta(minutes=CHECK_EVERY_MINUTES)
# Checks due longer ago than this when a request comes are skipped, as if Capgo's cron had
# been down: a clock that jumps days (a test sweeping a year) would run thousands otherwise.
CATCH_UP: Final = timedelta(hours=1)


def due_at_or_before(moment: datetime) -> datetime:
    """The last instant the check was queued at, at or before ``moment``."""
    floor = moment.replace(second=0, microsecond=0)
    return floor - timedelta(minutes=floor.minute % CHECK_EVERY_MINUTES)


def policy_of(channel: Channel) -> Policy:
    return Policy(
        enabled=channel.auto_pause_enabled,
        threshold_bps=channel.auto_pause_failure_rate_bps,
        confidence=channel.auto_pause_confidence,
        window_minutes=effective_window_minutes(channel.auto_pause_window_minutes),
        min_attempts=channel.auto_pause_min_attempts,
        min_failures=channel.auto_pause_min_failures,
        action=action_of(channel.auto_pause_action),
        cooldown_minutes=channel.auto_pause_cooldown_minutes,
        last_triggered_at=channel.auto_pause_last_triggered_at,
    )


def checked(channel: Channel) -> bool:
    """Whether Capgo's check evaluates the channel."""
    return (
        channel.rollout_enabled
        and channel.auto_pause_enabled
        and channel.rollout_percentage_bps > 0
        and channel.rollout_version is not None
        and channel.rollout_paused_at is None
    )


def capgo_counts(world: World, channel: Channel, bundle: str, at: datetime) -> tuple[int, int]:
    """Installs and failures of ``bundle`` Capgo attributes to the channel, over its window
    ending at ``at``, from production devices that are not emulators."""
    window = timedelta(minutes=effective_window_minutes(channel.auto_pause_window_minutes))
    store = world.devices[channel.app_id]
    installs = failures = 0
    counted: dict[str, bool] = {}  # a device reports many times in a window: judged once
    events = world.raw_events[channel.app_id].between(to_ms(at - window), to_ms(at), channel.name)
    for event in events:
        if event.version_name != bundle:
            continue
        if event.action != _INSTALL and not is_failure(event.action):
            continue
        counts = counted.get(event.device_id)
        if counts is None:
            index = store.index_of(event.device_id)
            facts = store.facts(index) if index is not None else None
            counts = facts is not None and facts.is_prod and not facts.is_emulator
            counted[event.device_id] = counts
        if not counts:
            continue
        if event.action == _INSTALL:
            installs += 1
        else:
            failures += 1
    return installs, failures


def evaluate_channel(world: World, channel: Channel, at: datetime) -> Evaluation | None:
    """What Capgo's check decides for the channel at ``at``; None without a rollout bundle."""
    bundle = world.bundle_by_id(channel.app_id, channel.rollout_version)
    if bundle is None:
        return None
    installs, failures = capgo_counts(world, channel, bundle.name, at)
    return evaluate(policy_of(channel), installs, failures, at)


def check(world: World, at: datetime) -> int:
    """One run of Capgo's check at ``at``; how many rollouts it acted on."""
    acted = 0
    for channels in world.channels.values():
        for channel in channels:
            if not checked(channel):
                continue
            result = evaluate_channel(world, channel, at)
            if result is None:
                continue
            channel.auto_pause_last_checked_at = at
            if result.triggers:
                _act(world, channel, result, at)
                acted += 1
    return acted


def _act(world: World, channel: Channel, result: Evaluation, at: datetime) -> None:
    bundle = world.bundle_by_id(channel.app_id, channel.rollout_version)
    assert bundle is not None
    channel.auto_pause_last_triggered_at = at
    channel.rollout_pause_reason = pause_reason(channel.name, bundle.name, result)
    if result.action == "pause":
        channel.rollout_paused_at = at
    elif result.action == "rollback":
        channel.rollout_enabled = False
        channel.rollout_percentage_bps = 0
        channel.rollout_version = None
        channel.rollout_paused_at = None


def catch_up(world: World, now: datetime) -> None:
    """Run every check due at or before ``now`` that has not run yet, those of the last hour
    only (hold the world's lock)."""
    due = world.auto_pause_next_check
    if due is None or now - due > CATCH_UP:
        due = due_at_or_before(now - CATCH_UP) if due is not None else due_at_or_before(now)
    while due <= now:
        check(world, due)
        due += CHECK_EVERY
    world.auto_pause_next_check = due
