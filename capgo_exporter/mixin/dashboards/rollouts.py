"""The app dashboard's "Rollouts" row: each rollout against Capgo's own auto-pause, and an
annotation wherever Capgo acted.

Capgo checks every active rollout with auto-pause enabled every 5 minutes and pauses it, rolls
it back or notifies when the lower bound of its bundle's failure rate reaches the channel's
threshold. The row shows the rollout's share, its attempts and failures over the channel's
window, the lower bound against the threshold, the verdict Capgo's check would give now, and
how long ago Capgo last checked.
"""

from __future__ import annotations

from typing import Final

from capgo_exporter.mixin.config import Config as RulesConfig
from capgo_exporter.mixin.dashboards.builder import dashed, stat, thresholds, timeseries
from capgo_exporter.mixin.dashboards.layout import PanelGroup, row
from capgo_exporter.mixin.dashboards.queries import APP, DATASOURCE, Target, ms, sel
from capgo_exporter.mixin.dashboards.schema import FieldDefaults, Panel, PrometheusAnnotation
from capgo_exporter.mixin.dashboards.tables import Column, table

NO_PREDICTION: Final = (
    "No active rollout, or no prediction: the rollouts collector needs the devices collector "
    "and a key with app.read_logs"
)
_EMPTY: Final[FieldDefaults] = {"noValue": NO_PREDICTION}
_RULES: Final = RulesConfig()
_BY: Final = "max by (channel)"


def _of(metric: str, *matchers: str) -> str:
    return f"{_BY} ({sel(metric, APP, *matchers)})"


def _channel_of(metric: str, *matchers: str) -> str:
    """One series per (app, channel), keyed alike for the tables' merge."""
    return f"max by (app_id, channel) ({sel(metric, APP, *matchers)})"


def rollout_verdicts() -> PanelGroup:
    """The row: share, lower bound against threshold, verdict, Capgo's last check."""
    checked = _of("capgo_channel_auto_pause_last_checked_timestamp_seconds")
    return [
        row("Rollouts"),
        timeseries(
            "Rollout share",
            "Share of devices offered each channel's rollout bundle (rolloutPercentageBps).",
            Target(_of("capgo_channel_rollout_ratio"), "{{channel}}"),
            unit="percentunit",
            size=(6, 8),
            defaults={"min": 0, "max": 1},
        ),
        timeseries(
            "Failure rate lower bound against the auto-pause threshold",
            "The lower bound of the rollout bundle's failure rate that Capgo's auto-pause "
            "computes (Wilson score at the channel's confidence, over its window, production "
            "devices that are not emulators), and the channel's threshold (dashed): Capgo acts "
            "when the bound reaches it. CapgoRolloutNearAutoPause warns at "
            f"{_RULES.rollout_near_ratio * 100:g} % of it.",
            Target(_of("capgo_channel_rollout_failure_lower_bound_ratio"), "{{channel}}"),
            Target(_of("capgo_channel_auto_pause_threshold_ratio"), "{{channel}} threshold"),
            unit="percentunit",
            size=(10, 8),
            overrides=[dashed("/ threshold$/")],
            defaults=_EMPTY,
        ),
        stat(
            "Verdict",
            "What Capgo's auto-pause check would decide now, per active rollout: trigger (it "
            "acts), below_threshold, insufficient_attempts, insufficient_failures, cooldown, "
            "missing_threshold (never acts) or disabled.",
            Target(
                f"max by (channel, reason) ({sel('capgo_channel_auto_pause_verdict', APP)}) == 1",
                "{{channel}}: {{reason}}",
            ),
            unit="none",
            size=(4, 8),
            defaults=_EMPTY,
            sparkline=False,
            text_mode="name",
        ),
        stat(
            "Since Capgo's last check",
            "Time since Capgo's auto-pause last checked each rollout (autoPauseLastCheckedAt). "
            "It checks active rollouts with auto-pause enabled every 5 minutes; "
            "CapgoRolloutAutoPauseCheckStale fires past "
            f"{_RULES.auto_pause_check_stale_minutes} minutes.",
            Target(f"time() - {checked}", "{{channel}}"),
            unit="s",
            size=(4, 8),
            defaults={
                "thresholds": thresholds(
                    ("orange", 600), ("red", _RULES.auto_pause_check_stale_minutes * 60)
                )
            },
            sparkline=False,
        ),
    ]


def rollout_counts() -> PanelGroup:
    """Attempts and failures of the rollout and stable bundles, and the policy table."""
    return [
        timeseries(
            "Attempts and failures, rollout and stable",
            "Install attempts (set events and events ending in _fail) and failures of each "
            "channel's rollout bundle and of its stable bundle, over the channel's auto-pause "
            "window, as Capgo's auto-pause counts them.",
            Target(_of("capgo_channel_rollout_attempts"), "{{channel}} rollout attempts"),
            Target(_of("capgo_channel_rollout_failures"), "{{channel}} rollout failures"),
            Target(_of("capgo_channel_stable_attempts"), "{{channel}} stable attempts"),
            Target(_of("capgo_channel_stable_failures"), "{{channel}} stable failures"),
            unit="short",
            size=(10, 8),
            overrides=[dashed("/ stable /")],
            defaults=_EMPTY,
        ),
        _policy_table(),
    ]


def _policy_table() -> Panel:
    policy = (
        "auto_pause_enabled",
        "auto_pause_threshold_ratio",
        "auto_pause_confidence",
        "auto_pause_window_seconds",
        "auto_pause_min_attempts",
        "auto_pause_min_failures",
        "auto_pause_cooldown_seconds",
    )
    return table(
        "Auto-pause policy and last action",
        "Each channel's auto-pause settings as Capgo reads them, what it does when it acts, "
        "and the figures it recorded the last time it acted (rolloutPauseReason).",
        [
            *(Target(_channel_of(f"capgo_channel_{name}")) for name in policy),
            Target(
                f"max by (app_id, channel, action) "
                f"({sel('capgo_channel_auto_pause_action', APP)}) == 1"
            ),
            Target(ms(_channel_of("capgo_channel_auto_pause_last_triggered_timestamp_seconds"))),
            Target(_channel_of("capgo_channel_auto_pause_triggered_failure_ratio")),
            Target(_channel_of("capgo_channel_auto_pause_triggered_lower_bound_ratio")),
            Target(_channel_of("capgo_channel_auto_pause_triggered_attempts")),
        ],
        [
            Column("channel", "Channel"),
            Column("#A", "Enabled", "bool_yes_no"),
            Column("#B", "Threshold", "percentunit"),
            Column("#C", "Confidence", "percentunit"),
            Column("#D", "Window", "s"),
            Column("#E", "Min attempts", "short"),
            Column("#F", "Min failures", "short"),
            Column("#G", "Cooldown", "s"),
            Column("action", "Action"),
            Column("#I", "Last acted", "dateTimeFromNow"),
            Column("#J", "Failure rate then", "percentunit"),
            Column("#K", "Lower bound then", "percentunit"),
            Column("#L", "Attempts then", "short"),
        ],
        size=(14, 8),
    )


def auto_pause_annotation() -> PrometheusAnnotation:
    """A mark at the instant Capgo's auto-pause acted on a rollout of the app."""
    acted = sel("capgo_channel_auto_pause_last_triggered_timestamp_seconds", APP)
    return {
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": "orange",
        "name": "Capgo auto-pause acted",
        "expr": ms(f"max by (app_id, channel) ({acted})"),
        "step": "5m",
        "titleFormat": "Capgo's auto-pause acted",
        "textFormat": "rollout on channel {{channel}} of {{app_id}}",
        "tagKeys": "app_id,channel",
        "useValueForTime": True,
    }
