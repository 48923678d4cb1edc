"""The statistics collector: MAU, storage, bandwidth and build time per org and per app.

Each figure is for the current billing cycle: ``from`` = the most recent occurrence of the
configured start day (UTC midnight, clamped to the month's length), ``to`` = tomorrow because
``to`` is exclusive. Capgo's rows are cumulative from ``from``, so the last row is the
cycle-to-date value; storage is the total stored on that day. Newer Capgo also counts each
app's active devices per platform (``native_usage``'s ``activeDevices``), over the last 30
days. One poll costs one request per organization and two per app.

A 402 (``subscription_required``) or 403 for one organization pauses that organization's
statistics, apps included, with one log line, and tries again hourly; the others carry on.

Exposition::

    capgo_org_monthly_active_users{org_id="…"} 1234.0
    capgo_org_monthly_active_users_limit{org_id="…"} 10000.0
    capgo_org_billing_cycle_start_timestamp_seconds{org_id="…"} 1.7643456e+09
    capgo_app_storage_bytes{app_id="com.acme.app"} 5.24288e+06
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.models import App, Organization, StatsRow
from capgo_exporter.collect.base import BaseCollector, CollectContext, CollectResult, Probe
from capgo_exporter.collect.gate import PermissionGate, guarded
from capgo_exporter.collect.samples import SampleSet
from capgo_exporter.collectors import CollectorName
from capgo_exporter.metrics import MetricSet
from capgo_exporter.settings import Settings
from capgo_exporter.settings.plan_lookup import Plan, plan_for, unmatched

# The metrics this collector fills (catalogue.py finds them through the registry).
METRICS = MetricSet("statistics")
_CYCLE = "in the current billing cycle so far"
ORG_MAU = METRICS.gauge(
    "capgo_org_monthly_active_users",
    f"Monthly active users of the organization {_CYCLE}: distinct devices seen since the cycle "
    "start (statistics field mau, cumulative).",
    "org_id",
)
ORG_STORAGE = METRICS.gauge(
    "capgo_org_storage_bytes",
    "Bytes of bundles the organization stores now (statistics field storage).",
    "org_id",
)
ORG_BANDWIDTH = METRICS.gauge(
    "capgo_org_bandwidth_bytes",
    f"Bytes downloaded from the organization {_CYCLE} (statistics field bandwidth, cumulative).",
    "org_id",
)
ORG_BUILD_TIME = METRICS.gauge(
    "capgo_org_build_time_seconds",
    f"Native build time used by the organization {_CYCLE} (statistics field build_time_seconds).",
    "org_id",
)
ORG_CYCLE_START = METRICS.gauge(
    "capgo_org_billing_cycle_start_timestamp_seconds",
    "Start of the billing cycle the organization's figures are counted from "
    "(--plan.billing-cycle-start-day, UTC midnight).",
    "org_id",
    cached=False,
)
ORG_CYCLE_END = METRICS.gauge(
    "capgo_org_billing_cycle_end_timestamp_seconds",
    "End of the organization's current billing cycle: the next start day, UTC midnight. "
    "With the start, it lets rules project usage to the end of the cycle.",
    "org_id",
    cached=False,
)
ORG_MAU_LIMIT = METRICS.gauge(
    "capgo_org_monthly_active_users_limit",
    "Monthly active users allowed by the plan, from configuration (--plan.mau-limit); "
    "absent when not configured.",
    "org_id",
    cached=False,
)
ORG_STORAGE_LIMIT = METRICS.gauge(
    "capgo_org_storage_limit_bytes",
    "Storage allowed by the plan, from configuration (--plan.storage-limit); "
    "absent when not configured.",
    "org_id",
    cached=False,
)
ORG_BANDWIDTH_LIMIT = METRICS.gauge(
    "capgo_org_bandwidth_limit_bytes",
    "Bandwidth per billing cycle allowed by the plan, from configuration "
    "(--plan.bandwidth-limit); absent when not configured.",
    "org_id",
    cached=False,
)
APP_MAU = METRICS.gauge(
    "capgo_app_monthly_active_users",
    f"Monthly active users of the app {_CYCLE} (statistics field mau, cumulative).",
    "app_id",
)
APP_STORAGE = METRICS.gauge(
    "capgo_app_storage_bytes",
    "Bytes of bundles the app stores now (statistics field storage).",
    "app_id",
)
APP_BANDWIDTH = METRICS.gauge(
    "capgo_app_bandwidth_bytes",
    f"Bytes downloaded from the app {_CYCLE} (statistics field bandwidth, cumulative).",
    "app_id",
)
# The window Capgo is asked to count active devices over: as capgo_app_devices_seen_30d.
ACTIVE_DEVICES_DAYS = 30
APP_ACTIVE_DEVICES = METRICS.gauge(
    "capgo_app_active_devices",
    f"Devices Capgo itself counts as active in the last {ACTIVE_DEVICES_DAYS} UTC days, today "
    "included, per platform (android, ios, electron, unknown) "
    "(GET /statistics/app/:app_id/native_usage field activeDevices); absent where Capgo does "
    "not count them.",
    "app_id",
    "platform",
)


def billing_cycle_start(today: date, start_day: int) -> date:
    """The most recent day ``start_day`` on or before ``today``, clamped to short months."""

    def clamp(year: int, month: int) -> date:
        return date(year, month, min(start_day, calendar.monthrange(year, month)[1]))

    this_month = clamp(today.year, today.month)
    if this_month <= today:
        return this_month
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return clamp(year, month)


def billing_cycle_end(today: date, start_day: int) -> date:
    """The next day ``start_day`` after ``today``: where the current cycle ends (exclusive)."""
    start = billing_cycle_start(today, start_day)
    # A month after the start, clamped: the start of the cycle that contains start + 31 days.
    return billing_cycle_start(start + timedelta(days=31), start_day)


def _cycle_to_date(rows: list[StatsRow]) -> StatsRow | None:
    return max(rows, key=lambda row: row.date) if rows else None


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class StatisticsCollector(BaseCollector):
    name: CollectorName = "statistics"

    def __init__(self, *, gate: PermissionGate | None = None) -> None:
        super().__init__(gate=gate)
        self._warned_plans: set[str] = set()

    async def collect(self, context: CollectContext) -> CollectResult:
        discovery = self.discovery_of(context)
        settings, client, gate, log = context.settings, context.client, self._gate, context.log
        today = context.now().astimezone(UTC).date()
        orgs, apps = discovery.orgs, discovery.apps
        self._warn_unmatched(context, orgs)
        # Each organization's cycle, from its plan; an app's is its organization's.
        plans = {org.id: plan_for(settings, org.id, org.name) for org in orgs}
        default = plan_for(settings, "")

        def cycle(org_id: str | None) -> Cycle:
            plan = plans.get(org_id or "", default)
            return Cycle.of(today, plan.billing_cycle_start_day)

        org_rows = await asyncio.gather(
            *(
                guarded(
                    gate,
                    log,
                    f"statistics:{org.id}",
                    cycle(org.id).rows(client.statistics.org, org.id),
                )
                for org in orgs
            )
        )
        # An org whose statistics are refused: its apps would be refused too; don't ask.
        refused = {org.id for org in orgs if not gate.allows(f"statistics:{org.id}")}
        asked = [app for app in apps if app.owner_org not in refused]
        app_rows, active = await asyncio.gather(
            asyncio.gather(
                *(
                    guarded(
                        gate,
                        log,
                        f"statistics:{app.owner_org}:{app.app_id}",
                        cycle(app.owner_org).rows(client.statistics.app, app.app_id),
                    )
                    for app in asked
                )
            ),
            asyncio.gather(*(self._active_devices(context, app, today) for app in asked)),
        )

        samples = SampleSet()
        for org, rows in zip(orgs, org_rows, strict=True):
            if rows is not None:
                _org_samples(samples, org.id, rows, plans[org.id], cycle(org.id))
        for app, rows, counts in zip(asked, app_rows, active, strict=True):
            if rows is not None:
                _app_samples(samples, app.app_id, rows)
            for platform, devices in (counts or {}).items():
                samples.set(APP_ACTIVE_DEVICES, devices, app.app_id, platform)
        return CollectResult(samples.freeze())

    def _warn_unmatched(self, context: CollectContext, orgs: tuple[Organization, ...]) -> None:
        """Once per table: a plan naming no organization the key sees (a typo, most likely)."""
        for key in unmatched(context.settings, {org.id: org.name for org in orgs}):
            if key not in self._warned_plans:
                self._warned_plans.add(key)
                context.log.warning(
                    "a plan in org_plans names no organization the key sees; check its id or name",
                    plan=key,
                    organizations=[org.name or org.id for org in orgs],
                )

    async def _active_devices(
        self, context: CollectContext, app: App, today: date
    ) -> dict[str, int] | None:
        """Capgo's own count of the app's active devices per platform, over the last
        `ACTIVE_DEVICES_DAYS` UTC days; None where Capgo does not count them (older Capgo)."""
        start = today - timedelta(days=ACTIVE_DEVICES_DAYS - 1)
        usage = await guarded(
            self._gate,
            context.log,
            f"native_usage:{app.owner_org}:{app.app_id}",
            context.client.statistics.native_usage(app.app_id, start, today + timedelta(days=1)),
        )
        if usage is None or usage.active_devices is None:
            return None
        return usage.active_devices.by_platform()


@dataclass(frozen=True)
class Cycle:
    """A billing cycle as of today: its start, and the day after today (``to`` is exclusive)."""

    start: date
    end: date  # the cycle's, exclusive: the next start day
    today: date

    @classmethod
    def of(cls, today: date, start_day: int) -> Cycle:
        start = billing_cycle_start(today, start_day)
        return cls(start, billing_cycle_end(today, start_day), today)

    def rows(
        self, fetch: Callable[[str, date, date], Coroutine[Any, Any, list[StatsRow]]], key: str
    ) -> Coroutine[Any, Any, list[StatsRow]]:
        return fetch(key, self.start, self.today + timedelta(days=1))


def _org_samples(
    samples: SampleSet, org_id: str, rows: list[StatsRow], plan: Plan, cycle: Cycle
) -> None:
    last = _cycle_to_date(rows)
    samples.set(ORG_CYCLE_START, _midnight(cycle.start), org_id)
    samples.set(ORG_CYCLE_END, _midnight(cycle.end), org_id)
    samples.set(ORG_MAU, last.mau if last else 0, org_id)
    samples.set(ORG_STORAGE, last.storage if last else 0, org_id)
    samples.set(ORG_BANDWIDTH, last.bandwidth if last else 0, org_id)
    samples.set(ORG_BUILD_TIME, last.build_time_seconds if last else 0, org_id)
    for metric, limit in (
        (ORG_MAU_LIMIT, plan.mau_limit),
        (ORG_STORAGE_LIMIT, plan.storage_limit_bytes),
        (ORG_BANDWIDTH_LIMIT, plan.bandwidth_limit_bytes),
    ):
        if limit is not None:
            samples.set(metric, limit, org_id)


def _app_samples(samples: SampleSet, app_id: str, rows: list[StatsRow]) -> None:
    last = _cycle_to_date(rows)
    samples.set(APP_MAU, last.mau if last else 0, app_id)
    samples.set(APP_STORAGE, last.storage if last else 0, app_id)
    samples.set(APP_BANDWIDTH, last.bandwidth if last else 0, app_id)


def build(settings: Settings) -> StatisticsCollector:
    return StatisticsCollector()


def probes(
    client: CapgoClient, org: Organization | None, app: App | None, today: date
) -> list[Probe]:
    # Yesterday and today: the smallest range that answers whatever the time of day.
    start, end = today - timedelta(days=1), today + timedelta(days=1)
    found: list[Probe] = []
    if app is not None:
        app_id = app.app_id
        found.append(
            Probe(
                "GET /statistics/app/{app_id}",
                "statistics",
                lambda: _days(client.statistics.app(app_id, start, end)),
            )
        )
    if org is not None:
        org_id = org.id
        found.append(
            Probe(
                "GET /statistics/org/{org_id}",
                "statistics",
                lambda: _days(client.statistics.org(org_id, start, end)),
            )
        )
    return found


async def _days(rows: Awaitable[list[Any]]) -> str:
    return f"{len(await rows)} days of statistics"
