"""POST /private/stats: raw device event rows (Capgo's ``private/stats.ts``, ``readStatsCF``).

Body ``{appId, rangeStart?, rangeEnd?, actions?, devicesId?, search?, order?, limit?}``; rows
``{app_id, device_id, action, version_name, metadata, created_at}`` with
``rangeStart <= created_at < rangeEnd``, identical rows grouped into one, at most ``limit``
(whole number, 1 to 50,000; absent or invalid: the default; negative or fractional: 400). No
cursor, no total. Without a range the simulator serves the last day.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

from capgo_exporter.sim.events import KNOWN_ACTIONS
from capgo_exporter.sim.protocol import bad_request, parse_body, schema_error
from capgo_exporter.sim.raw_events import RawEvent
from capgo_exporter.sim.routes.base import Ctx, app_with
from capgo_exporter.sim.timeutil import parse_js_date, to_ms

MAX_LIMIT: Final = 50_000
DEFAULT_LIMIT: Final = 1_000
_ORDER_KEYS: Final = ("created_at", "app_id", "device_id", "action", "version_name")
_DEFAULT_SPAN: Final = timedelta(days=1)


def _moment(body: dict[str, Any], name: str) -> int | None:
    """Epoch ms of an ISO date-time or of epoch milliseconds (a number or numeric string)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise schema_error(name, "Invalid date")
    if isinstance(value, int | float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        if value.strip().lstrip("-").isdigit():
            return int(value)
        moment = parse_js_date(value)
        if moment is not None:
            return to_ms(moment)
    raise schema_error(name, "Invalid date")


def _limit(body: dict[str, Any]) -> int:
    value = body.get("limit")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DEFAULT_LIMIT
    if value < 0 or (isinstance(value, float) and not value.is_integer()):
        raise schema_error("limit", "Expected a positive whole number")
    return min(int(value), MAX_LIMIT) if value >= 1 else DEFAULT_LIMIT


def _actions(body: dict[str, Any]) -> frozenset[str] | None:
    actions = body.get("actions")
    if actions is None or actions == []:
        return None
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise schema_error("actions", "Expected array of strings")
    unknown = [a for a in actions if a not in KNOWN_ACTIONS]
    if unknown:
        raise schema_error("actions", f"Invalid enum value '{unknown[0]}'")
    return frozenset(actions)


def _iso(ms: int) -> str:
    """``ms_iso_z``, faster: a large answer formats 50,000 of them."""
    seconds, millis = divmod(ms, 1000)
    t = time.gmtime(seconds)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{millis:03d}Z"
    )


def _row(app_id: str, event: RawEvent) -> dict[str, Any]:
    return {
        "app_id": app_id,
        "device_id": event.device_id,
        "action": event.action,
        "version_name": event.version_name,
        "metadata": None if event.metadata is None else json.loads(event.metadata),
        "created_at": _iso(event.created_ms),
    }


def _matches(event: RawEvent, needle: str) -> bool:
    fields = (event.device_id, event.action, event.version_name, event.metadata or "")
    return any(needle in value.lower() for value in fields)


def _ordered(rows: list[dict[str, Any]], order: Any) -> list[dict[str, Any]]:
    if not isinstance(order, list):
        return rows
    for item in reversed(order):  # the first key sorts last, so it wins
        if isinstance(item, dict) and item.get("key") in _ORDER_KEYS:
            key = str(item["key"])
            rows.sort(key=lambda row: str(row[key]), reverse=item.get("sortable") == "desc")
    return rows


def _keeps(body: dict[str, Any]) -> Callable[[RawEvent], bool]:
    """Which events the body's ``actions``, ``devicesId`` and ``search`` keep."""
    actions = _actions(body)
    devices = body.get("devicesId")
    wanted = None
    if isinstance(devices, list):
        wanted = {d.lower() for d in devices if isinstance(d, str)}
    search = body.get("search")
    needle = search.lower() if isinstance(search, str) and search else None

    def keep(event: RawEvent) -> bool:
        return (
            (actions is None or event.action in actions)
            and (wanted is None or event.device_id in wanted)
            and (needle is None or _matches(event, needle))
        )

    return keep


def stats_rows(ctx: Ctx) -> Any:
    body = parse_body(ctx.request)
    app_id = body.get("appId")
    if not isinstance(app_id, str) or not app_id:
        raise schema_error("appId", "Required")
    start, end, limit = _moment(body, "rangeStart"), _moment(body, "rangeEnd"), _limit(body)
    keep = _keeps(body)
    denied = bad_request("app_access_denied", "You can't access this app", app_id=app_id)
    app = app_with(ctx, app_id, "app.read_logs", denied)
    now = ctx.world.now()
    end = to_ms(now) if end is None else end
    start = to_ms(now - _DEFAULT_SPAN) if start is None else start
    rows: dict[tuple[Any, ...], RawEvent] = {}
    for event in ctx.world.raw_events[app.app_id].between(start, end):
        if keep(event):
            # Grouped by every column of the row: identical events are one row.
            key = (event.created_ms, event.device_id, event.action, event.version_name)
            rows.setdefault((*key, event.metadata), event)
    answer = [_row(app.app_id, event) for event in rows.values()]
    return _ordered(answer, body.get("order"))[:limit]
