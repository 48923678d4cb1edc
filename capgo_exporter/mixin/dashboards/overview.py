"""The Capgo overview dashboard: plan usage per organization, cycle-to-date figures, apps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from capgo_exporter.mixin.dashboards.builder import (
    dashed,
    date_stat,
    ratio_bargauge,
    stat,
    timeseries,
    usage_thresholds,
)
from capgo_exporter.mixin.dashboards.layout import UID_APP, UID_OVERVIEW, PanelGroup, dashboard, row
from capgo_exporter.mixin.dashboards.queries import (
    ORG,
    Config,
    Target,
    ms,
    sel,
    with_app_name,
    with_org_name,
    without,
)
from capgo_exporter.mixin.dashboards.schema import Dashboard, DataLink, FieldOverride, Panel
from capgo_exporter.mixin.dashboards.tables import Column, table
from capgo_exporter.mixin.dashboards.variables import job_variables, org_variable
from capgo_exporter.settings import FLAG_NAMES


@dataclass(frozen=True)
class PlanUsage:
    """One figure a plan limits: its metric, the limit's metric and the limit's flag."""

    name: str
    used: str
    limit: str
    unit: str
    setting: str

    @property
    def flag(self) -> str:
        return FLAG_NAMES[self.setting]


PLAN_USAGE: Final = (
    PlanUsage(
        "Monthly active users",
        "capgo_org_monthly_active_users",
        "capgo_org_monthly_active_users_limit",
        "short",
        "plan_mau_limit",
    ),
    PlanUsage(
        "Storage",
        "capgo_org_storage_bytes",
        "capgo_org_storage_limit_bytes",
        "bytes",
        "plan_storage_limit_bytes",
    ),
    PlanUsage(
        "Bandwidth",
        "capgo_org_bandwidth_bytes",
        "capgo_org_bandwidth_limit_bytes",
        "bytes",
        "plan_bandwidth_limit_bytes",
    ),
)

# The limit as a dashed line next to the usage it caps.
LIMIT_STYLE: Final[FieldOverride] = dashed("/ limit$/")


def plan_usage(config: Config) -> PanelGroup:
    """Plan usage against the configured limits, per organization: now, then over time."""
    return [
        row("Plan usage"),
        *(usage_of_plan(usage, config) for usage in PLAN_USAGE),
        *(usage_over_time(usage) for usage in PLAN_USAGE),
    ]


def usage_of_plan(usage: PlanUsage, config: Config) -> Panel:
    return ratio_bargauge(
        f"{usage.name} of plan",
        f"{usage.name} used in the current billing cycle as a share of the plan limit "
        f"({usage.flag}). Orange from {config.usage_warning:.0%}, red from "
        f"{config.usage_critical:.0%}. Empty when no limit is configured.",
        Target(
            with_org_name(f"{sel(usage.used, ORG)} / {sel(usage.limit, ORG)}"),
            "{{org_name}}",
            instant=True,
        ),
        usage_thresholds(config),
    )


def usage_over_time(usage: PlanUsage) -> Panel:
    return timeseries(
        f"{usage.name} over time",
        f"{usage.name} per organization over time, cycle to date, with the plan limit when one "
        "is configured (dashed). The figures restart at each billing cycle.",
        Target(with_org_name(sel(usage.used, ORG)), "{{org_name}}"),
        Target(with_org_name(sel(usage.limit, ORG)), "{{org_name}} limit"),
        unit=usage.unit,
        overrides=[LIMIT_STYLE],
    )


def billing_cycle() -> PanelGroup:
    """The billing cycle's figures so far, per organization."""

    def cycle_stat(title: str, metric: str, unit: str, what: str) -> Panel:
        return stat(
            title,
            f"{what} per organization in the current billing cycle so far.",
            Target(with_org_name(sel(metric, ORG)), "{{org_name}}"),
            unit=unit,
        )

    start = sel("capgo_org_billing_cycle_start_timestamp_seconds", ORG)
    end = sel("capgo_org_billing_cycle_end_timestamp_seconds", ORG)
    return [
        row("Billing cycle to date"),
        cycle_stat(
            "Monthly active users", "capgo_org_monthly_active_users", "short", "Distinct devices"
        ),
        cycle_stat("Storage", "capgo_org_storage_bytes", "bytes", "Bytes of bundles stored now"),
        cycle_stat("Bandwidth", "capgo_org_bandwidth_bytes", "bytes", "Bytes downloaded"),
        cycle_stat("Build time", "capgo_org_build_time_seconds", "s", "Native build time used"),
        date_stat(
            "Cycle started",
            "Start of the billing cycle the figures count from "
            f"({FLAG_NAMES['billing_cycle_start_day']}, UTC midnight).",
            Target(with_org_name(ms(start)), "{{org_name}}"),
            size=(8, 4),
        ),
        date_stat(
            "Cycle ends",
            "End of the current billing cycle, when usage figures restart from zero.",
            Target(with_org_name(ms(end)), "{{org_name}}"),
            size=(8, 4),
        ),
        stat(
            "Cycle elapsed",
            "Share of the billing cycle already past. Usage of plan well above this share "
            "means the limit will be reached before the cycle ends.",
            Target(with_org_name(f"(time() - {start}) / ({end} - {start})"), "{{org_name}}"),
            unit="percentunit",
            size=(8, 4),
            defaults={"min": 0, "max": 1, "decimals": 0},
        ),
    ]


def _app_value(metric: str) -> str:
    return with_app_name(sel(metric))


# A table row's link to the app dashboard, keeping the time range and the variables.
APP_LINK: Final[DataLink] = {
    "title": "Open the app's dashboard",
    "url": f"/d/{UID_APP}/capgo-app?${{__url_time_range}}&${{datasource:queryparam}}"
    "&${job:queryparam}&${instance:queryparam}"
    "&var-org=${__data.fields.org_id}&var-app=${__data.fields.app_id}",
}


def apps() -> PanelGroup:
    """Which apps use the plan, and a table of every app."""
    return [
        row("Apps"),
        timeseries(
            "Monthly active users by app",
            "Monthly active users per app, cycle to date, stacked: which apps use the plan.",
            Target(_app_value("capgo_app_monthly_active_users"), "{{app_name}}"),
            unit="short",
            size=(12, 8),
            stack=True,
        ),
        timeseries(
            "Bandwidth by app",
            "Bytes downloaded per app, cycle to date, stacked.",
            Target(_app_value("capgo_app_bandwidth_bytes"), "{{app_name}}"),
            unit="bytes",
            size=(12, 8),
            stack=True,
        ),
        table(
            "Apps",
            "Every app of the selected organizations with its cycle-to-date usage, its bundles "
            "and the devices the exporter tracks. The app id opens the app's dashboard.",
            [
                Target(without("", sel("capgo_app_info", ORG))),
                Target(_app_value("capgo_app_monthly_active_users")),
                Target(_app_value("capgo_app_storage_bytes")),
                Target(_app_value("capgo_app_bandwidth_bytes")),
                Target(_app_value("capgo_app_bundles")),
                Target(ms(_app_value("capgo_app_latest_bundle_created_timestamp_seconds"))),
                Target(_app_value("capgo_exporter_devices_tracked")),
            ],
            [
                Column("app_name", "App"),
                Column("app_id", "App id"),
                Column("org_id", "Organization id"),
                Column("#B", "MAU", "short"),
                Column("#C", "Storage", "bytes"),
                Column("#D", "Bandwidth", "bytes"),
                Column("#E", "Live bundles", "short"),
                Column("#F", "Latest bundle", "dateTimeFromNow"),
                Column("#G", "Devices tracked", "short"),
            ],
            links={"App id": APP_LINK},
        ),
    ]


def organizations() -> PanelGroup:
    """A table of organizations (members, invitations, apps), and the API keys' expiries."""
    # Per organization: its info joined onto each count so all rows share one label set.
    org_rows = [
        Target(without("", sel("capgo_org_info", ORG))),
        Target(with_org_name(f"sum without (role) ({sel('capgo_org_members', ORG)})")),
        Target(with_org_name(sel("capgo_org_pending_invitations", ORG))),
        Target(with_org_name(f"count without (app_id, app_name) ({sel('capgo_app_info', ORG)})")),
    ]
    return [
        table(
            "Organizations",
            "Members per organization (pending invitations apart) and apps.",
            org_rows,
            [
                Column("org_name", "Organization"),
                Column("org_id", "Organization id"),
                Column("#B", "Members", "short"),
                Column("#C", "Pending invitations", "short"),
                Column("#D", "Apps", "short"),
            ],
            size=(14, 7),
        ),
        date_stat(
            "API keys expire",
            "Expiry of the API keys that have one (needs a key allowed to list keys). "
            "Rotate a key before it expires, or the exporter stops.",
            Target(ms(sel("capgo_apikey_expiry_timestamp_seconds")), "{{apikey_name}}"),
            size=(10, 7),
        ),
    ]


def overview(config: Config) -> Dashboard:
    return dashboard(
        UID_OVERVIEW,
        "Capgo overview",
        "Capgo organizations: plan usage (MAU, storage, bandwidth) against the limits, the "
        "billing cycle so far, and their apps.",
        [*job_variables(), org_variable()],
        [*plan_usage(config), *billing_cycle(), *apps(), *organizations()],
        config,
        "now-7d",
    )
