"""A channel's rollout as Capgo's auto-pause sees it: its policy, and the counts it decides on.

Capgo's check (``triggers/cron_rollout_auto_pause.ts``) counts, over the channel's window
ending now, the ``set`` events (installs) and the events whose action ends in ``_fail``
(failures) of the rollout bundle, from production devices that are not emulators. The exporter
counts the same from the raw ``POST /private/stats`` rows of the app (one request for the
window, exact: a full answer is split and asked again), keeping the rows whose device the
device index knows as is_prod and not is_emulator. The same request gives the channel's stable
bundle's counts.

Where the prediction can differ from Capgo's decision:

- Capgo counts the events its statistics attributed to the channel (the device's channel when
  it reported); the rows carry no channel, so the exporter counts every event of the bundle in
  the app: another channel rolling out the same bundle adds its events;
- a device the index does not know yet (first seen after the devices collector's last walk) is
  not counted, nor one whose is_prod or is_emulator changed since;
- identical events (same device, action, bundle, metadata and millisecond) are one row;
- fleets whose app sends no statistics report nothing: 0 attempts on both sides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.models import Channel
from capgo_exporter.api.stats_rows import MAX_LIMIT, StatsEvent
from capgo_exporter.autopause import (
    COUNTED_ACTIONS,
    DEFAULT_CONFIDENCE,
    DEFAULT_COOLDOWN_MINUTES,
    INSTALL_ACTION,
    Policy,
    action_of,
    effective_window_minutes,
    is_failure,
    parse_pause_reason,
)
from capgo_exporter.collect.base import DeviceLookup


@dataclass(frozen=True)
class Counts:
    installs: int = 0
    failures: int = 0

    @property
    def attempts(self) -> int:
        return self.installs + self.failures


def policy_of(channel: Channel) -> Policy:
    """The channel's auto-pause settings, nulls read as Capgo's check reads them."""
    confidence = channel.auto_pause_confidence
    cooldown = channel.auto_pause_cooldown_minutes
    return Policy(
        enabled=bool(channel.auto_pause_enabled),
        threshold_bps=channel.auto_pause_failure_rate_bps,
        confidence=DEFAULT_CONFIDENCE if confidence is None else confidence,
        window_minutes=effective_window_minutes(channel.auto_pause_window_minutes),
        min_attempts=channel.auto_pause_min_attempts,
        min_failures=channel.auto_pause_min_failures,
        action=action_of(channel.auto_pause_action),
        cooldown_minutes=DEFAULT_COOLDOWN_MINUTES if cooldown is None else cooldown,
        last_triggered_at=channel.auto_pause_last_triggered_at,
    )


def has_rollout(channel: Channel) -> bool:
    """A channel whose auto-pause matters: a rollout enabled or set up, auto-pause on, or a
    rollout Capgo's auto-pause stopped (a rollback clears the rollout, not the reason)."""
    return bool(
        channel.rollout_enabled
        or channel.rollout_bundle_name
        or channel.auto_pause_enabled
        or parse_pause_reason(channel.rollout_pause_reason)
    )


def is_active(channel: Channel) -> bool:
    """A rollout Capgo's check would evaluate if auto-pause were on: enabled, a share above
    0, a rollout bundle, not paused."""
    return bool(
        channel.rollout_enabled
        and (channel.rollout_percentage_bps or 0) > 0
        and channel.rollout_bundle_name
        and channel.rollout_paused_at is None
    )


def tally(rows: Iterable[StatsEvent], production: set[str]) -> dict[str, Counts]:
    """Installs and failures per bundle, from the rows of production devices."""
    installs: dict[str, int] = {}
    failures: dict[str, int] = {}
    for row in rows:
        bundle = row.version_name
        if bundle is None or row.device_id not in production:
            continue
        if row.action == INSTALL_ACTION:
            installs[bundle] = installs.get(bundle, 0) + 1
        elif is_failure(row.action):
            failures[bundle] = failures.get(bundle, 0) + 1
    return {
        bundle: Counts(installs.get(bundle, 0), failures.get(bundle, 0))
        for bundle in installs.keys() | failures.keys()
    }


async def window_counts(
    client: CapgoClient,
    devices: DeviceLookup,
    app_id: str,
    start: datetime,
    end: datetime,
    *,
    limit: int = MAX_LIMIT,
) -> dict[str, Counts]:
    """Counts per bundle of the app over ``[start, end)``, as Capgo's auto-pause counts."""
    rows = await client.stats_rows.complete(
        app_id, start, end, actions=COUNTED_ACTIONS, limit=limit
    )
    ids = {row.device_id for row in rows}
    # Off the event loop: the index's lock may be held by a page of the devices collector.
    production = await asyncio.to_thread(devices.production_devices, app_id, ids)
    return tally(rows, production)
