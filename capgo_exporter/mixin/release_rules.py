"""Release-health rules: failure ratios per bundle and per app, and the alerts that read them.

The events collector publishes, per app and per bundle, the device events of the last N UTC
days (``capgo_app_events``, ``capgo_bundle_events``): ``set`` (an install that activated) and
the failure actions (failed downloads and updates, crashes, webview errors). Their thresholds
are Config's bundle_failure_* and crash_* fields; events_days is the exporter's window. A release's
failure ratio is failures / (failures + installs) over that window. Gauges are combined with
``max`` per (app, bundle, action) first, so an HA pair of exporters does not double them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from capgo_exporter.mixin.ruledocs import Alert, Record

if TYPE_CHECKING:
    from capgo_exporter.mixin.rules import Rules

BUNDLE_FAILURE_RATIO: Final = "app_id_bundle:capgo_bundle_failure_events_per_attempts:ratio"
APP_FAILURE_RATIO: Final = "app_id:capgo_app_failure_events_per_attempts:ratio"
BUNDLE_REPORTING_DEVICES: Final = "app_id_bundle:capgo_bundle_event_devices:max"
APP_CRASHES_PER_DAY: Final = "app_id:capgo_app_crash_events_per_day:avg"
CRASH_ACTIONS: Final = "app_crash|app_crash_native|app_anr"


def failure_ratio(select: Callable[..., str], metric: str, by: str) -> str:
    """failures / (failures + installs); 0 where a release has installs and no failure.
    ``select(metric, *matchers)`` scopes the series (the rules' selector, a dashboard's)."""
    failed, installed = select(metric, 'action!="set"'), select(metric, 'action="set"')
    failures = f"sum by ({by}) (max by ({by}, action) ({failed}))"
    installs = f"max by ({by}) ({installed})"
    failures_or_0 = f"({failures}\n  or {installs} * 0)"
    return f"{failures_or_0}\n/\n(\n  {failures_or_0}\n  + ({installs}\n  or {failures} * 0)\n)\n"


def records(rules: Rules) -> tuple[Record, ...]:
    s = rules.s
    days = f"(max({s('capgo_events_window_seconds')}) / 86400)"
    crashes = s("capgo_app_events", f'action=~"{CRASH_ACTIONS}"')
    return (
        Record(
            BUNDLE_FAILURE_RATIO, failure_ratio(rules.s, "capgo_bundle_events", "app_id, bundle")
        ),
        Record(APP_FAILURE_RATIO, failure_ratio(rules.s, "capgo_app_events", "app_id")),
        # A device reporting two actions counts once: the largest action's devices, a lower
        # bound of the distinct devices that reported anything on the bundle.
        Record(
            BUNDLE_REPORTING_DEVICES,
            f"max by (app_id, bundle) ({s('capgo_bundle_event_devices')})",
        ),
        Record(
            APP_CRASHES_PER_DAY,
            f"sum by (app_id) (max by (app_id, action) ({crashes}))\n/ scalar{days}\n",
        ),
    )


def alerts(rules: Rules) -> tuple[Alert, ...]:
    c = rules.config
    bundle = "bundle {{ $labels.bundle }} of app {{ $labels.app_id }}"
    window = f"{c.events_days}d"
    return (
        Alert(
            "CapgoBundleFailureRateHigh",
            "critical",
            f"{BUNDLE_FAILURE_RATIO} > {c.bundle_failure_ratio:g}\n"
            "and on (app_id, bundle)\n"
            f"{BUNDLE_REPORTING_DEVICES} >= {c.bundle_failure_min_devices}\n",
            "A Capgo bundle fails on many of the devices that install it.",
            f"{{{{ $value | humanizePercentage }}}} of the install attempts of {bundle} in the "
            f"last {window} failed or crashed (threshold {c.bundle_failure_ratio * 100:g}%, "
            f"at least {c.bundle_failure_min_devices} devices reporting). Pause its rollout.",
            "15m",
        ),
        # Like for like: the window's crashes per day against the previous window's, with an
        # absolute floor so a handful of crashes on a small fleet never pages.
        Alert(
            "CapgoAppCrashesRising",
            "warning",
            f"{APP_CRASHES_PER_DAY} > {c.crash_min_per_day:g}\n"
            "and on (app_id)\n"
            f"{APP_CRASHES_PER_DAY}\n> {c.crash_rise_factor:g} * "
            f"({APP_CRASHES_PER_DAY} offset {window})\n",
            "Crashes of a Capgo app have risen sharply.",
            "App {{ $labels.app_id }} reports {{ $value | humanize }} crashes a day over the "
            f"last {window}, more than {c.crash_rise_factor:g} times the previous {window}.",
            "1h",
        ),
    )


def add_arguments(parser: argparse.ArgumentParser, defaults: Any) -> None:
    parser.add_argument(
        "--bundle-failure-ratio",
        type=float,
        default=defaults.bundle_failure_ratio,
        help="CapgoBundleFailureRateHigh's threshold (default: %(default)s)",
    )
    parser.add_argument(
        "--bundle-failure-min-devices",
        type=int,
        default=defaults.bundle_failure_min_devices,
        help="devices a bundle needs reporting before it may alert (default: %(default)s)",
    )
    parser.add_argument(
        "--collector.events.days",
        dest="events_days",
        type=int,
        choices=(1, 3, 7, 30),
        default=defaults.events_days,
        help="the exporter's events window in days (default: %(default)s)",
    )


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "bundle_failure_ratio": args.bundle_failure_ratio,
        "bundle_failure_min_devices": args.bundle_failure_min_devices,
        "events_days": args.events_days,
    }
