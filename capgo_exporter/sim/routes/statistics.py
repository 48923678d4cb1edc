"""/statistics: daily rows, `to` exclusive, cumulative unless noAccumulate; newer Capgo's active
devices per platform in native_usage.

Capgo's ``supabase/functions/_backend/public/statistics/index.ts``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from capgo_exporter.sim.model import App, Org
from capgo_exporter.sim.protocol import ApiError, schema_error
from capgo_exporter.sim.routes.base import Ctx, app_with, org_with
from capgo_exporter.sim.stats import AppSeries
from capgo_exporter.sim.timeutil import iso_z, parse_js_date, to_ms

_SUMMED = ("mau", "bandwidth", "build_time_seconds")


@dataclass(frozen=True)
class _Window:
    start: datetime
    days: int  # rows before dropping future days
    accumulate: bool
    breakdown: bool


def _flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise schema_error(name, "Invalid enum value. Expected 'true' | 'false'")
    return value == "true"


def _window(ctx: Ctx) -> _Window:
    params = ctx.request.query_params()  # statistics read the query string only
    bounds = []
    for name in ("from", "to"):
        parsed = parse_js_date(params.get(name, ""))
        if parsed is None:
            raise schema_error(name, "Invalid date")
        bounds.append(parsed)
    days = round(abs((bounds[1] - bounds[0]) / timedelta(days=1)))
    return _Window(bounds[0], days, not _flag(params, "noAccumulate"), _flag(params, "breakdown"))


def _days(ctx: Ctx, window: _Window) -> list[datetime]:
    """`from + i` for i < N, minus days after today (UTC)."""
    today = ctx.world.now().date()
    moments = (window.start + timedelta(days=i) for i in range(window.days))
    return [m for m in moments if m.date() <= today]


def _raw_rows(series: Sequence[AppSeries], days: list[datetime]) -> list[dict[str, Any]]:
    """Per-day values summed over `series`; storage as the day's delta.

    storage_byte_hours is taken from the first app, as /statistics/user does; the simulator
    does the same on the org route (a simplification, nobody charts it).
    """
    rows = []
    for moment in days:
        day = moment.date()
        storage_delta = sum(s.storage(day) - s.storage(day - timedelta(days=1)) for s in series)
        rows.append(
            {
                "date": iso_z(moment),
                "mau": sum(s.new_mau(day) for s in series),
                "storage": storage_delta,
                "storage_byte_hours": series[0].storage(day) * 24 if series else 0,
                "bandwidth": sum(s.bandwidth(day) for s in series),
                "build_time_seconds": sum(s.build_time(day) for s in series),
            }
        )
    return rows


def _shape(
    series: Sequence[AppSeries], days: list[datetime], accumulate: bool
) -> list[dict[str, Any]]:
    rows = _raw_rows(series, days)
    if rows:
        # Capgo rewrites day 0 to the absolute total so the running sum is bytes stored.
        rows[0]["storage"] = sum(s.storage(days[0].date()) for s in series)
    if accumulate:
        for previous, row in pairwise(rows):
            for name in (*_SUMMED, "storage"):
                row[name] += previous[name]
    return rows


def _require_paying(orgs: Sequence[Org]) -> None:
    if any(not org.paying for org in orgs):
        raise ApiError(
            402, "subscription_required", "You need a paying subscription to access statistics"
        )


def _stat_app(ctx: Ctx) -> App:
    denied = ApiError(401, "no_access_to_app", "You can't access this app")
    app = app_with(ctx, ctx.path["app_id"], "app.read", denied)
    org = ctx.world.org(app.owner_org)
    _require_paying([org] if org else [])
    return app


def app_stats(ctx: Ctx) -> Any:
    app = _stat_app(ctx)
    window = _window(ctx)
    return _shape([ctx.world.series[app.app_id]], _days(ctx, window), window.accumulate)


def org_stats(ctx: Ctx) -> Any:
    denied = ApiError(401, "no_access_to_organization", "You can't access this organization")
    org = org_with(ctx, ctx.path["org_id"], "org.read", denied)
    _require_paying([org])
    window = _window(ctx)
    days = _days(ctx, window)
    apps = [a for a in ctx.world.apps if a.owner_org == org.id]  # deleted apps included
    series = [ctx.world.series[a.app_id] for a in apps]
    rows = _shape(series, days, window.accumulate)
    if not window.breakdown:
        return rows
    by_app = []
    for app, one in zip(apps, series, strict=True):
        # Per-app rows are raw daily values: storage is not corrected to a total.
        by_app += [{"app_id": app.app_id, **row} for row in _raw_rows([one], days)]
    return {"global": rows, "byApp": by_app}


def user_stats(ctx: Ctx) -> Any:
    world = ctx.world
    orgs = [o for o in world.live_orgs() if ctx.principal.can("org.read", o.id)]
    if not orgs:
        raise ApiError(401, "no_organizations_found", "No organizations found")
    _require_paying(orgs)
    window = _window(ctx)
    apps = [a for a in world.live_apps() if ctx.principal.can("app.read", a.owner_org, a.id)]
    return _shape([world.series[a.app_id] for a in apps], _days(ctx, window), window.accumulate)


def _label_days(ctx: Ctx) -> list[date]:
    window = _window(ctx)
    first = window.start.date()
    return [first + timedelta(days=i) for i in range(window.days + 1)]  # `to` included


def _datasets(per_day: list[dict[str, int]]) -> list[dict[str, Any]]:
    labels = list(dict.fromkeys(name for counts in per_day for name in counts))
    totals = [sum(counts.values()) for counts in per_day]
    return [
        {
            "label": label,
            "data": [
                round(100 * c.get(label, 0) / t, 2) if t else 0
                for c, t in zip(per_day, totals, strict=True)
            ],
            "metaCounts": [c.get(label, 0) for c in per_day],
        }
        for label in labels
    ]


def bundle_usage(ctx: Ctx) -> Any:
    app = _stat_app(ctx)
    days = _label_days(ctx)
    series = ctx.world.series[app.app_id]
    names = ctx.world.devices[app.app_id].version_weights
    today = ctx.world.now().date()
    per_day = [series.update_checks(d, names) if d <= today else {} for d in days]
    return {"labels": [d.isoformat() for d in days], "datasets": _datasets(per_day)}


_PLATFORM_LABEL = {"ios": "iOS", "android": "Android", "electron": "Electron"}


def native_usage(ctx: Ctx) -> Any:
    app = _stat_app(ctx)
    days = _label_days(ctx)
    series = ctx.world.series[app.app_id]
    today = ctx.world.now().date()
    checks = [series.native_checks(d) if d <= today else {} for d in days]
    per_day = [{f"{_PLATFORM_LABEL[p]} {v}": n for (p, v), n in c.items()} for c in checks]
    by_version: dict[str, int] = {}
    for day_checks in checks:
        for (_, version), n in day_checks.items():
            by_version[version] = by_version.get(version, 0) + n
    total = sum(by_version.values())
    latest = max(by_version, key=lambda v: tuple(int(p) for p in v.split(".")), default=None)
    latest_info = (
        None
        if latest is None
        else {
            "name": latest,
            "percentage": f"{100 * by_version[latest] / total if total else 0:.1f}",
        }
    )
    answer = {
        "labels": [d.isoformat() for d in days],
        "datasets": _datasets(per_day),
        "latestVersion": latest_info,
    }
    if ctx.world.config.newer_capgo:
        answer |= _active_devices(ctx, app)
    return answer


def _active_devices(ctx: Ctx, app: App) -> dict[str, Any]:
    """Newer Capgo's own count of the devices active over [from, to), per platform, and over
    the period of the same length before it."""
    window = _window(ctx)
    start, span = window.start, timedelta(days=window.days)
    store = ctx.world.devices[app.app_id]

    def counts(begin: datetime) -> dict[str, int]:
        found = store.active_by_platform(to_ms(begin), to_ms(begin + span))
        shown = {p: found.get(p, 0) for p in ("android", "ios", "electron")}
        shown["unknown"] = sum(n for p, n in found.items() if p not in shown)
        return shown | {"total": sum(shown.values())}

    return {
        "activeDevices": counts(start),
        "previousPeriodActiveDevices": counts(start - span),
    }
