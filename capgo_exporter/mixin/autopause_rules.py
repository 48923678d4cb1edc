"""Rollout rules on Capgo's own auto-pause: how close a rollout is to being paused, whether Capgo
acted or should have, whether its check still runs, and rollouts failing where nothing guards
them.

Capgo checks every active rollout with auto-pause enabled every 5 minutes
(``triggers/cron_rollout_auto_pause.ts``) and acts when the Wilson lower bound of the rollout
bundle's failure rate over the channel's window reaches the channel's threshold. The rollouts
collector publishes that policy and state from the channel objects, and the decision Capgo's
check would make now (``capgo_channel_auto_pause_verdict``, from the same counts and the same
arithmetic). Channel gauges are combined with ``max`` per (app, channel), so an HA pair of
exporters does not double them. Thresholds are Config's rollout_* fields.
"""

from __future__ import annotations

import argparse
from statistics import NormalDist
from typing import Any, Final

from capgo_exporter.mixin.config import Config
from capgo_exporter.mixin.ruledocs import Alert, Record

ROLLOUT_RATIO: Final = "app_id_channel:capgo_channel_rollout_failures_per_attempts:ratio"
STABLE_RATIO: Final = "app_id_channel:capgo_channel_stable_failures_per_attempts:ratio"
POOLED_RATIO: Final = "app_id_channel:capgo_channel_release_failures_per_attempts:ratio"
VS_STABLE: Final = "app_id_channel:capgo_channel_rollout_vs_stable_failures:z_score"

_BY: Final = "max by (app_id, channel)"
_ON: Final = "and on (app_id, channel)"
_CHANNEL: Final = "channel {{ $labels.channel }} of app {{ $labels.app_id }}"
_DAY: Final = 86_400


def _max(config: Config, metric: str, *matchers: str) -> str:
    return f"{_BY} ({config.select(metric, *matchers)})"


def records(config: Config) -> tuple[Record, ...]:
    def attempts(of: str) -> str:
        return _max(config, f"capgo_channel_{of}_attempts")

    def failures(of: str) -> str:
        return _max(config, f"capgo_channel_{of}_failures")

    both_failed = f"{failures('rollout')}\n+ {failures('stable')}"
    both_attempted = f"{attempts('rollout')}\n+ {attempts('stable')}"
    return (
        Record(ROLLOUT_RATIO, f"{failures('rollout')}\n/ ({attempts('rollout')} > 0)\n"),
        Record(STABLE_RATIO, f"{failures('stable')}\n/ ({attempts('stable')} > 0)\n"),
        Record(POOLED_RATIO, f"(\n  {both_failed}\n)\n/ (\n  ({both_attempted}) > 0\n)\n"),
        # A one-sided two-proportion test: how many standard errors the rollout's failure
        # rate is above the stable bundle's, both from the same window. Where no failure
        # was seen on either side the error is 0 and there is no score.
        Record(
            VS_STABLE,
            f"({ROLLOUT_RATIO} - {STABLE_RATIO})\n/ (\n  sqrt(\n"
            f"    {POOLED_RATIO} * (1 - {POOLED_RATIO})\n"
            f"    * (1 / {attempts('rollout')} + 1 / {attempts('stable')})\n  ) > 0\n)\n",
        ),
    )


def alerts(config: Config) -> tuple[Alert, ...]:
    return (
        _near(config),
        _not_acting(config),
        _check_stale(config),
        _failing_unguarded(config),
        _worse_than_stable(config),
        _stopped(config),
    )


def _lower_bound(config: Config) -> str:
    return _max(config, "capgo_channel_rollout_failure_lower_bound_ratio")


def _near(config: Config) -> Alert:
    threshold = _max(config, "capgo_channel_auto_pause_threshold_ratio")
    near = config.rollout_near_ratio
    return Alert(
        "CapgoRolloutNearAutoPause",
        "warning",
        f"{_lower_bound(config)}\n>= {near:g} * {threshold}\n"
        f"{_ON} {threshold} > 0\n"
        f"{_ON} {_max(config, 'capgo_channel_auto_pause_enabled')} == 1\n",
        "A Capgo rollout is close to being paused by Capgo's auto-pause.",
        f"The rollout on {_CHANNEL} fails on at least {{{{ $value | humanizePercentage }}}} "
        "of its install attempts (the lower bound Capgo's auto-pause computes, at the channel's "
        f"confidence): {near * 100:g}% or more of the threshold at which Capgo acts.",
        "10m",
    )


def _not_acting(config: Config) -> Alert:
    trigger = _max(config, "capgo_channel_auto_pause_verdict", 'reason="trigger"')
    minutes = config.auto_pause_not_acting_minutes
    return Alert(
        "CapgoRolloutAutoPauseNotActing",
        "critical",
        f"{trigger} == 1\n{_ON} {_max(config, 'capgo_channel_rollout_paused')} == 0\n",
        "Capgo's auto-pause should have stopped a failing rollout and has not.",
        f"For {minutes} minutes (two of Capgo's checks, and the exporter's next reading of the "
        f"channel), Capgo's own rule says the rollout on {_CHANNEL} must be acted on, and it "
        "is neither paused nor rolled back.",
        f"{minutes}m",
    )


def _check_stale(config: Config) -> Alert:
    minutes = config.auto_pause_check_stale_minutes
    checked = _max(config, "capgo_channel_auto_pause_last_checked_timestamp_seconds")
    return Alert(
        "CapgoRolloutAutoPauseCheckStale",
        "warning",
        f"{_max(config, 'capgo_channel_auto_pause_enabled')} == 1\n"
        f"{_ON} {_max(config, 'capgo_channel_rollout_ratio')} > 0\n"
        f"{_ON} {_max(config, 'capgo_channel_rollout_paused')} == 0\n"
        f"unless on (app_id, channel)\ntime() - {checked} < {minutes * 60}\n",
        "Capgo's auto-pause has stopped checking a rollout.",
        f"Auto-pause is enabled on the active rollout of {_CHANNEL}, but Capgo has not "
        f"checked it for more than {minutes} minutes (or never); it checks every 5 minutes.",
        "5m",
    )


def _failing_unguarded(config: Config) -> Alert:
    unguarded = _max(
        config, "capgo_channel_auto_pause_verdict", 'reason=~"disabled|missing_threshold"'
    )
    ratio, minimum = config.rollout_failure_ratio, config.rollout_min_failures
    return Alert(
        "CapgoRolloutFailingWithoutAutoPause",
        "critical",
        f"{_lower_bound(config)} > {ratio:g}\n"
        f"{_ON} {_max(config, 'capgo_channel_rollout_failures')} >= {minimum}\n"
        f"{_ON} {unguarded} == 1\n",
        "A failing Capgo rollout has no auto-pause to stop it.",
        f"The rollout on {_CHANNEL} fails on at least {{{{ $value | humanizePercentage }}}} "
        f"of its install attempts (lower bound; threshold {ratio * 100:g}%, at least "
        f"{minimum} failures), and Capgo's auto-pause is off or has no threshold on the "
        "channel: nothing will stop it.",
        "10m",
    )


def _worse_than_stable(config: Config) -> Alert:
    confidence = config.rollout_vs_stable_confidence
    z = NormalDist().inv_cdf(confidence)
    minimum = config.rollout_min_failures
    return Alert(
        "CapgoRolloutWorseThanStable",
        "warning",
        f"{VS_STABLE} > {z!r}\n"
        f"{_ON} {_max(config, 'capgo_channel_rollout_failures')} >= {minimum}\n",
        "A Capgo rollout fails more often than its channel's stable bundle.",
        f"The rollout bundle on {_CHANNEL} fails more often than the channel's stable bundle "
        f"over the same window, with {confidence * 100:g}% confidence ("
        '{{ $value | printf "%.1f" }} standard errors above it).',
        "15m",
    )


def _stopped(config: Config) -> Alert:
    triggered = _max(config, "capgo_channel_auto_pause_last_triggered_timestamp_seconds")
    return Alert(
        "CapgoRolloutStoppedByAutoPause",
        "info",
        f"time() - {triggered} < {_DAY}\n"
        f"{_ON} {_max(config, 'capgo_channel_auto_pause_triggered_attempts')}\n"
        f"unless on (app_id, channel)\n{_max(config, 'capgo_channel_rollout_paused')} == 0\n",
        "Capgo's auto-pause stopped a rollout.",
        f"Capgo's auto-pause paused or rolled back the rollout on {_CHANNEL} "
        "{{ $value | humanizeDuration }} ago: its bundle failed too often (the channel's "
        "rolloutPauseReason has the figures).",
    )


def add_arguments(parser: argparse.ArgumentParser, defaults: Config) -> None:
    parser.add_argument(
        "--rollout-failure-ratio",
        type=float,
        default=defaults.rollout_failure_ratio,
        help="CapgoRolloutFailingWithoutAutoPause's threshold on a rollout's lower bound "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--rollout-near-ratio",
        type=float,
        default=defaults.rollout_near_ratio,
        help="CapgoRolloutNearAutoPause fires at this share of the channel's auto-pause "
        "threshold (default: %(default)s)",
    )
    parser.add_argument(
        "--auto-pause-not-acting-minutes",
        type=int,
        default=defaults.auto_pause_not_acting_minutes,
        help="CapgoRolloutAutoPauseNotActing's wait: two of Capgo's 5-minute checks plus the "
        "exporter's --collector.inventory.interval and its 10%% jitter (default: %(default)s)",
    )


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "rollout_failure_ratio": args.rollout_failure_ratio,
        "rollout_near_ratio": args.rollout_near_ratio,
        "auto_pause_not_acting_minutes": args.auto_pause_not_acting_minutes,
    }
