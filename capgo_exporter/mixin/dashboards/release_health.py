"""The app dashboard's "Release health" row: failures, installs and crashes per bundle."""

from __future__ import annotations

from typing import Final

from capgo_exporter.mixin.config import Config as RulesConfig
from capgo_exporter.mixin.dashboards.builder import stat, timeseries
from capgo_exporter.mixin.dashboards.layout import PanelGroup, row
from capgo_exporter.mixin.dashboards.queries import APP, Target, sel
from capgo_exporter.mixin.dashboards.schema import FieldDefaults
from capgo_exporter.mixin.dashboards.tables import Column, table
from capgo_exporter.mixin.release_rules import (
    BUNDLE_FAILURE_LOWER_BOUND,
    CRASH_ACTIONS,
    failure_ratio,
)

# Shown instead of "No data" when the events collector has nothing for the app.
NO_EVENTS: Final = (
    "No device events: the events collector is off, the key lacks app.read_logs, "
    "or the app sends no statistics"
)
_EMPTY: Final[FieldDefaults] = {"noValue": NO_EVENTS}
CRASHES: Final = f'action=~"{CRASH_ACTIONS}"'
# The alert's defaults, which the panel descriptions quote.
_RULES: Final = RulesConfig()


def _of_app(metric: str, *matchers: str) -> str:
    return sel(metric, APP, *matchers)


# The rules' expressions on the dashboard's own selectors: recorded series are aggregated by
# app, so they carry no job or instance for the dashboard's variables to narrow on.
APP_RATIO: Final = failure_ratio(_of_app, "capgo_app_events", "app_id")
BUNDLE_RATIO: Final = failure_ratio(_of_app, "capgo_bundle_events", "app_id, bundle")
CRASHES_PER_DAY: Final = (
    f"sum by (app_id) (max by (app_id, action) ({_of_app('capgo_app_events', CRASHES)}))\n"
    f"/ scalar(max({sel('capgo_events_window_seconds')}) / 86400)"
)


FAILED: Final = 'action!="set"'
INSTALLED: Final = 'action="set"'


def release_health() -> PanelGroup:
    """The row, the app's failure ratio, the ratio per bundle and failures by action."""
    failures = sel("capgo_app_events", APP, FAILED)
    failing_devices = sel("capgo_app_event_devices", APP, FAILED)
    return [
        row("Release health"),
        stat(
            "Failure ratio",
            "Failure events / (failure events + installs) of the app over the events window "
            "(capgo_events_window_seconds).",
            Target(f"max({APP_RATIO})", "failure ratio"),
            unit="percentunit",
            size=(6, 8),
            defaults=_EMPTY,
        ),
        timeseries(
            "Failure ratio per bundle",
            "Per bundle, failure events / (failure events + installs) in the window. "
            "CapgoBundleFailureRateHigh fires when, with "
            f"{_RULES.bundle_failure_confidence * 100:g} % confidence, a bundle's ratio is "
            f"above {_RULES.bundle_failure_ratio * 100:g} % (the Wilson score lower bound, "
            f"recorded as {BUNDLE_FAILURE_LOWER_BOUND}) and it has at least "
            f"{_RULES.bundle_failure_min_failures} failure events: a small bundle's raw ratio "
            "may cross the threshold by chance.",
            Target(BUNDLE_RATIO, "{{bundle}}"),
            unit="percentunit",
            size=(18, 8),
            defaults=_EMPTY,
        ),
        timeseries(
            "Failures by action",
            "Failure events in the window per action, and the devices reporting them.",
            Target(f"max by (action) ({failures})", "{{action}}"),
            Target(
                f"max by (action) ({failing_devices})",
                "{{action}} devices",
            ),
            unit="short",
            defaults=_EMPTY,
        ),
    ]


def release_trends() -> PanelGroup:
    """Installs per bundle, crashes per day, the top failing bundles (below release_health)."""
    installs = sel("capgo_bundle_events", APP, INSTALLED)
    bundle_failures = sel("capgo_bundle_events", APP, FAILED)
    return [
        timeseries(
            "Installs per bundle",
            "Bundles installed and activated (set events) in the window, per bundle.",
            Target(
                f"max by (bundle) ({installs})",
                "{{bundle}}",
            ),
            unit="short",
            defaults=_EMPTY,
        ),
        timeseries(
            "Crashes per day",
            "app_crash, app_crash_native and app_anr per day of the window "
            "(CapgoAppCrashesRising compares it with the previous window).",
            Target(CRASHES_PER_DAY, "{{app_id}}"),
            Target(f"max({sel('capgo_events_window_seconds')}) / 86400", "window (days)"),
            unit="short",
            defaults=_EMPTY,
        ),
        table(
            "Top failing bundles",
            "Bundles by failure ratio, with failure events and the devices reporting; only the "
            "route's top 30 (action, bundle) pairs per request are known.",
            [
                Target(BUNDLE_RATIO),
                Target(
                    f"sum by (app_id, bundle) (max by (app_id, bundle, action) ({bundle_failures}))"
                ),
                Target(f"max by (app_id, bundle) ({sel('capgo_bundle_event_devices', APP)})"),
            ],
            [
                Column("bundle", "Bundle"),
                Column("#A", "Failure ratio", "percentunit"),
                Column("#B", "Failures", "short"),
                Column("#C", "Devices reporting", "short"),
            ],
        ),
    ]
