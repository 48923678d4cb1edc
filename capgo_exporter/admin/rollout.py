"""``admin channel rollout-status APP_ID CHANNEL``: a rollout as Capgo's auto-pause sees it now.

Capgo checks every active rollout with auto-pause enabled every 5 minutes: installs (``set``)
and failures (actions ending in ``_fail``) of the rollout bundle over the channel's window, from
production devices that are not emulators; the Wilson lower bound of the failure rate at the
channel's confidence against its threshold. This prints the same counts, bound, threshold and
the verdict Capgo's check would give now, computed by the exporter's own code (the rollouts
collector's: ``collect/rollout_counts.py`` and ``autopause.py``), with the stable bundle's
counts beside them. Read-only: nothing to confirm.

Cost: ``GET /channel``, a walk of the app's devices into an index in memory (Capgo counts
production devices only, and the event rows do not say which those are: ⌈devices / page size⌉
requests), and one ``POST /private/stats`` (more when the window holds more than 50,000 events).
JSON is one object; the table shows the same, one figure a line.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from capgo_exporter.admin.context import CommandError, Context
from capgo_exporter.admin.group import Group
from capgo_exporter.admin.runner import api_error_line
from capgo_exporter.api import CapgoAPIError, NotFoundError
from capgo_exporter.api.devices import DEFAULT_PAGE_SIZE
from capgo_exporter.api.models import Channel
from capgo_exporter.autopause import MAX_BPS, evaluate
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.collect.rollout_counts import Counts, is_active, policy_of, window_counts

HINT_DENIED = "the key needs app.read_logs on {app_id} (any app role has it) for the device events"
HINT_GONE = "Capgo no longer serves this private route; upgrade capgo-exporter"


async def _production_index(ctx: Context, app_id: str) -> DeviceIndex:
    """The app's devices, walked into an index in memory (its production devices count)."""
    index = DeviceIndex()
    page_size = ctx.settings.device_page_size or DEFAULT_PAGE_SIZE
    async for rows in ctx.capgo.devices.rows(app_id, page_size=page_size):
        index.upsert_devices(app_id, rows)
    return index


async def _counts(ctx: Context, channel: Channel, app_id: str, now: datetime) -> dict[str, Counts]:
    index = await _production_index(ctx, app_id)
    window = policy_of(channel).window
    try:
        return await window_counts(ctx.capgo, index, app_id, now - window, now)
    except CapgoAPIError as error:
        line = api_error_line(error)
        if error.code == "app_access_denied":
            raise CommandError(f"{line}; {HINT_DENIED.format(app_id=app_id)}") from None
        if isinstance(error, NotFoundError):
            raise CommandError(f"{line}; {HINT_GONE}") from None
        raise
    finally:
        index.close()


def status(channel: Channel, counts: dict[str, Counts], now: datetime) -> dict[str, Any]:
    """The rollout's figures as one document."""
    policy = policy_of(channel)
    rollout = counts.get(channel.rollout_bundle_name or "", Counts())
    stable = counts.get(channel.bundle_name or "", Counts())
    result = evaluate(policy, rollout.installs, rollout.failures, now)
    threshold = result.threshold_bps
    return {
        "app_id": channel.app_id,
        "channel": channel.name,
        "rollout_bundle": channel.rollout_bundle_name,
        "stable_bundle": channel.bundle_name,
        "active": is_active(channel),
        "auto_pause_enabled": policy.enabled,
        "window_seconds": policy.window.total_seconds(),
        "confidence": policy.confidence,
        "attempts": result.attempts,
        "failures": result.failures,
        "failure_ratio": result.failure_rate_bps / MAX_BPS,
        "lower_bound_ratio": result.lower_bound_bps / MAX_BPS,
        "threshold_ratio": None if threshold is None else threshold / MAX_BPS,
        "verdict": result.verdict,
        "action": result.action,
        "stable_attempts": stable.attempts,
        "stable_failures": stable.failures,
        "last_checked_at": _iso(channel.auto_pause_last_checked_at),
        "last_triggered_at": _iso(channel.auto_pause_last_triggered_at),
        "pause_reason": channel.rollout_pause_reason,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


async def rollout_status(ctx: Context, args: argparse.Namespace) -> None:
    channel = await ctx.capgo.channels.get(args.app_id, args.channel)
    if channel.app_id is None:
        channel = channel.model_copy(update={"app_id": args.app_id})
    now = ctx.now()
    doc = status(channel, await _counts(ctx, channel, args.app_id, now), now)
    ctx.out.document(doc)
    if not doc["active"]:
        ctx.out.note(
            "the rollout is not active (disabled, 0 %, no bundle or paused): Capgo's check "
            "skips it; the verdict is what it would say if it were active"
        )


def register(channel: Group) -> None:
    channel.command(
        "rollout-status",
        rollout_status,
        "a rollout as Capgo's auto-pause sees it now: counts, lower bound, threshold, verdict",
        "app_id",
        "channel",
    )
