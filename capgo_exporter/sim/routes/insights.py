"""POST /private/stats/insights: events per action and bundle over whole UTC days ending
tomorrow 00:00, top 20 actions and top 30 (action, bundle) pairs per call.

Capgo's ``supabase/functions/_backend/private/stats.ts``, read through ``readStatsInsightsCF`` in
``_backend/utils/cloudflare.ts``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from capgo_exporter.api.insights import DEFAULT_FAILURE_ACTIONS
from capgo_exporter.sim.events import KNOWN_ACTIONS, Count, EventLog
from capgo_exporter.sim.protocol import bad_request, parse_body, schema_error
from capgo_exporter.sim.routes.base import Ctx, app_with
from capgo_exporter.sim.timeutil import iso_z

ALLOWED_DAYS = (1, 3, 7, 30)
TOP_ACTIONS = 20
TOP_PAIRS = 30


def _actions(body: dict[str, Any]) -> tuple[str, ...]:
    actions = body.get("actions")
    if actions is None or actions == []:
        return DEFAULT_FAILURE_ACTIONS
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise schema_error("actions", "Expected array of strings")
    unknown = [a for a in actions if a not in KNOWN_ACTIONS]
    if unknown:
        raise schema_error("actions", f"Invalid enum value '{unknown[0]}'")
    return tuple(dict.fromkeys(actions))  # a repeated action counts once


def _days(body: dict[str, Any]) -> int:
    days = body.get("days", 7)
    if isinstance(days, bool) or days not in ALLOWED_DAYS:
        raise bad_request("invalid_days", "days must be one of 1, 3, 7, 30", days=days)
    return int(days)


def _top(rows: list[dict[str, Any]], limit: int, *keys: str) -> list[dict[str, Any]]:
    """Largest totals first; ties in a stable order so equal questions get equal answers."""
    return sorted(rows, key=lambda r: (-r["total"], *(r[k] for k in keys)))[:limit]


def stats_insights(ctx: Ctx) -> Any:
    body = parse_body(ctx.request)
    app_id = body.get("appId")
    if not isinstance(app_id, str) or not app_id:
        raise schema_error("appId", "Required")
    days, actions = _days(body), _actions(body)
    denied = bad_request("app_access_denied", "You can't access this app", app_id=app_id)
    app = app_with(ctx, app_id, "app.read_logs", denied)
    log = ctx.world.events[app.app_id]
    tomorrow = ctx.world.now().date() + timedelta(days=1)
    window = [tomorrow - timedelta(days=days - i) for i in range(days)]
    start = datetime.combine(window[0], time(), UTC)
    end = datetime.combine(tomorrow, time(), UTC)
    pairs: dict[tuple[str, str], Count] = {
        (action, bundle): log.window(window, action, bundle)
        for action in actions
        for bundle in log.bundles
    }
    pairs = {key: count for key, count in pairs.items() if count.total}
    last_day = iso_z(datetime.combine(window[-1], time(), UTC))
    versions = [
        {
            "action": action,
            "version_name": bundle,
            "total": count.total,
            "device_count": count.devices,
            "last_seen": last_day,
        }
        for (action, bundle), count in pairs.items()
    ]
    action_rows = _action_rows(ctx, log, app.app_id, actions, pairs, window, last_day)
    devices = _device_rows(ctx, app.app_id, versions)
    # A bundle with no event of an action in the window has none on any of its days.
    reporting: dict[str, list[str]] = {}
    for action, bundle in pairs:
        reporting.setdefault(action, []).append(bundle)
    daily = [
        {"date": day.isoformat(), "action": action, "total": total}
        for day in window
        for action in actions
        if (total := sum(log.day(day, action, b).total for b in reporting.get(action, ())))
    ]
    return {
        "summary": {
            "total": sum(r["total"] for r in action_rows),
            # Distinct devices over all actions: at least the largest action's.
            "device_count": max((r["device_count"] for r in action_rows), default=0),
            "action_count": len(action_rows),
        },
        "actions": _top(action_rows, TOP_ACTIONS, "action"),
        "daily": daily,
        "versions": _top(versions, TOP_PAIRS, "action", "version_name"),
        "devices": _top(devices, TOP_PAIRS, "action", "device_id"),
        "period": {
            "requested_days": days,
            "start": iso_z(start),
            "end": iso_z(end),
            "labels": [day.isoformat() for day in window],
        },
    }


def _action_rows(
    ctx: Ctx,
    log: EventLog,
    app_id: str,
    actions: tuple[str, ...],
    pairs: dict[tuple[str, str], Count],
    window: list[Any],
    last_day: str,
) -> list[dict[str, Any]]:
    rows = []
    for action in actions:
        mine = [(bundle, c) for (a, bundle), c in pairs.items() if a == action]
        if not mine:
            continue
        first = next(d for d in window if any(log.day(d, action, b).total for b, _ in mine))
        rows.append(
            {
                "action": action,
                "total": sum(c.total for _, c in mine),
                "device_count": sum(c.devices for _, c in mine),  # bundles' devices are disjoint
                "version_count": len(mine),
                "first_seen": iso_z(datetime.combine(first, time(), UTC)),
                "last_seen": last_day,
                "latest_version_name": mine[0][0],  # the newest bundle comes first
                "latest_device_id": ctx.world.devices[app_id].device_id(0),
            }
        )
    return rows


def _device_rows(ctx: Ctx, app_id: str, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The busiest device per (action, bundle): its share of the pair's events, at least one."""
    store = ctx.world.devices[app_id]
    rows = []
    for position, row in enumerate(versions):
        if store.count == 0:
            break
        rows.append(
            {
                "action": row["action"],
                "device_id": store.device_id(position % store.count),
                "total": max(1, -(-row["total"] // max(1, row["device_count"]))),
                "version_name": row["version_name"],
                "last_seen": row["last_seen"],
            }
        )
    return rows
