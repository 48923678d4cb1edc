"""Release-health rules: failure ratios per bundle and per app, and the alerts that read them.

The events collector publishes, per app and per bundle, the device events of the last N UTC
days (``capgo_app_events``, ``capgo_bundle_events``): ``set`` (an install that activated) and
the failure actions (failed downloads and updates, crashes, webview errors). Their thresholds
are Config's bundle_failure_* and crash_* fields; events_days is the exporter's window. A release's
failure ratio is failures / (failures + installs) over that window. Gauges are combined with
``max`` per (app, bundle, action) first, so an HA pair of exporters does not double them.

A raw ratio is noise on a small bundle: 5 failures in 67 attempts (7.5 %) is what a healthy
bundle failing 1.3 % of the time shows now and then. CapgoBundleFailureRateHigh therefore reads
the Wilson score lower bound of the ratio, the test Capgo's own rollout auto-pause applies:
the bundle fails more often than the threshold with the configured confidence, and it has a
minimum number of failure events.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from statistics import NormalDist
from typing import Any, Final

from capgo_exporter.mixin.config import Config
from capgo_exporter.mixin.ruledocs import Alert, Record

BUNDLE_FAILURE_RATIO: Final = "app_id_bundle:capgo_bundle_failure_events_per_attempts:ratio"
BUNDLE_FAILURES: Final = "app_id_bundle:capgo_bundle_failure_events:sum"
BUNDLE_ATTEMPTS: Final = "app_id_bundle:capgo_bundle_attempts:sum"
BUNDLE_FAILURE_LOWER_BOUND: Final = (
    "app_id_bundle:capgo_bundle_failure_events_per_attempts:wilson_lower_bound"
)
APP_FAILURE_RATIO: Final = "app_id:capgo_app_failure_events_per_attempts:ratio"
APP_CRASHES_PER_DAY: Final = "app_id:capgo_app_crash_events_per_day:avg"
CRASH_ACTIONS: Final = "app_crash|app_crash_native|app_anr"
BUNDLE_LABELS: Final = "app_id, bundle"


def failure_ratio(select: Callable[..., str], metric: str, by: str) -> str:
    """failures / (failures + installs); 0 where a release has installs and no failure.
    ``select(metric, *matchers)`` scopes the series (the rules' selector, a dashboard's)."""
    failed, installed = select(metric, 'action!="set"'), select(metric, 'action="set"')
    failures = f"sum by ({by}) (max by ({by}, action) ({failed}))"
    installs = f"max by ({by}) ({installed})"
    failures_or_0 = f"({failures}\n  or {installs} * 0)"
    return f"{failures_or_0}\n/\n(\n  {failures_or_0}\n  + ({installs}\n  or {failures} * 0)\n)\n"


def z_score(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence``: Φ⁻¹(1 - (1 - c)/2), 1.96 for 0.95."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson_lower_bound(failures: str, attempts: str, confidence: float) -> str:
    """The Wilson score lower bound of failures / attempts, as PromQL over two vectors.

    Capgo's formula, lower = (p + z²/2n - z·√((p(1-p) + z²/4n)/n)) / (1 + z²/n) with
    p = F/n, multiplied through by 2n: (2F + z² - z·√(z² + 4F(n-F)/n)) / (2(n + z²)). The
    same value, with one division by n (where ``n > 0`` drops the bundles with no attempt, so
    nothing is NaN or infinite) and exactly 0 for 0 failures (√(z²) = z in floating point).
    """
    z = repr(z_score(confidence))
    return (
        f"(\n  2 * {failures}\n  + {z}^2\n  - {z} * sqrt(\n    {z}^2\n"
        f"    + 4 * {failures} * ({attempts} - {failures}) / ({attempts} > 0)\n  )\n)\n"
        f"/ (2 * ({attempts} + {z}^2))\n"
    )


def records(config: Config) -> tuple[Record, ...]:
    select = config.select
    days = f"(max({select('capgo_events_window_seconds')}) / 86400)"
    crashes = select("capgo_app_events", f'action=~"{CRASH_ACTIONS}"')
    failed = select("capgo_bundle_events", 'action!="set"')
    installed = select("capgo_bundle_events", 'action="set"')
    by = BUNDLE_LABELS
    return (
        Record(BUNDLE_FAILURE_RATIO, failure_ratio(select, "capgo_bundle_events", by)),
        # The counts the lower bound and the alert read; 0 failures, not none, where a bundle
        # has installs only. Later rules of a group see earlier ones' results of the same
        # evaluation.
        Record(
            BUNDLE_FAILURES,
            f"sum by ({by}) (max by ({by}, action) ({failed}))\n"
            f"or\nmax by ({by}) ({installed}) * 0\n",
        ),
        Record(
            BUNDLE_ATTEMPTS,
            f"{BUNDLE_FAILURES}\n+ (\n  max by ({by}) ({installed})\n"
            f"  or\n  {BUNDLE_FAILURES} * 0\n)\n",
        ),
        Record(
            BUNDLE_FAILURE_LOWER_BOUND,
            wilson_lower_bound(BUNDLE_FAILURES, BUNDLE_ATTEMPTS, config.bundle_failure_confidence),
        ),
        Record(APP_FAILURE_RATIO, failure_ratio(select, "capgo_app_events", "app_id")),
        Record(
            APP_CRASHES_PER_DAY,
            f"sum by (app_id) (max by (app_id, action) ({crashes}))\n/ scalar{days}\n",
        ),
    )


def _of_bundle(record: str, format_: str) -> str:
    """A template showing the alerted bundle's value of another recorded series."""
    query = f'printf "%s{{app_id=%q,bundle=%q}}" "{record}" $labels.app_id $labels.bundle'
    return f"{{{{ with {query} | query }}}}{{{{ . | first | value | {format_} }}}}{{{{ end }}}}"


def alerts(config: Config) -> tuple[Alert, ...]:
    return (_bundle_failure_rate_high(config), _app_crashes_rising(config))


def _bundle_failure_rate_high(config: Config) -> Alert:
    """The bundle fails more often than the threshold, with the configured confidence: the
    Wilson score lower bound of its failure ratio is above it. The minimum number of failure
    events keeps a tiny sample quiet (2 failures in 3 attempts has a lower bound of 21 %),
    which the bound alone would not."""
    bundle = "bundle {{ $labels.bundle }} of app {{ $labels.app_id }}"
    confidence = f"{config.bundle_failure_confidence * 100:g}%"
    failures = _of_bundle(BUNDLE_FAILURES, 'printf "%.0f"')
    attempts = _of_bundle(BUNDLE_ATTEMPTS, 'printf "%.0f"')
    ratio = _of_bundle(BUNDLE_FAILURE_RATIO, "humanizePercentage")
    min_failures = config.bundle_failure_min_failures
    return Alert(
        "CapgoBundleFailureRateHigh",
        "critical",
        f"{BUNDLE_FAILURE_LOWER_BOUND} > {config.bundle_failure_ratio:g}\n"
        "and on (app_id, bundle)\n"
        f"{BUNDLE_FAILURES} >= {min_failures}\n",
        "A Capgo bundle fails on too many of its install attempts.",
        f"At least {{{{ $value | humanizePercentage }}}} of the install attempts of {bundle} "
        f"fail or crash ({confidence} confidence lower bound): {failures} failure events in "
        f"{attempts} attempts ({ratio} observed) in the last {config.events_days}d. Threshold "
        f"{config.bundle_failure_ratio * 100:g}%, with at least {min_failures} "
        "failure events. Pause its rollout.",
        "15m",
    )


def _app_crashes_rising(config: Config) -> Alert:
    """Like for like: the window's crashes per day against the previous window's, with an
    absolute floor so a handful of crashes on a small fleet never pages."""
    window = f"{config.events_days}d"
    return Alert(
        "CapgoAppCrashesRising",
        "warning",
        f"{APP_CRASHES_PER_DAY} > {config.crash_min_per_day:g}\n"
        "and on (app_id)\n"
        f"{APP_CRASHES_PER_DAY}\n> {config.crash_rise_factor:g} * "
        f"({APP_CRASHES_PER_DAY} offset {window})\n",
        "Crashes of a Capgo app have risen sharply.",
        "App {{ $labels.app_id }} reports {{ $value | humanize }} crashes a day over the "
        f"last {window}, more than {config.crash_rise_factor:g} times the previous {window}.",
        "1h",
    )


def _confidence(text: str) -> float:
    try:
        value = float(text)
        z_score(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid confidence {text!r}: a number between 0 and 1, e.g. 0.95"
        ) from None
    return value


def add_arguments(parser: argparse.ArgumentParser, defaults: Config) -> None:
    parser.add_argument(
        "--bundle-failure-ratio",
        type=float,
        default=defaults.bundle_failure_ratio,
        help="CapgoBundleFailureRateHigh's threshold (default: %(default)s)",
    )
    parser.add_argument(
        "--bundle-failure-confidence",
        type=_confidence,
        default=defaults.bundle_failure_confidence,
        help="confidence with which a bundle's failure ratio must exceed the threshold: the "
        "alert reads the ratio's Wilson score lower bound (default: %(default)s)",
    )
    parser.add_argument(
        "--bundle-failure-min-failures",
        type=int,
        default=defaults.bundle_failure_min_failures,
        help="failure events a bundle needs in the window before it may alert "
        "(default: %(default)s)",
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
        "bundle_failure_confidence": args.bundle_failure_confidence,
        "bundle_failure_min_failures": args.bundle_failure_min_failures,
        "events_days": args.events_days,
    }
