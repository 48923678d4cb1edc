"""The rollouts collector: Capgo's rollout auto-pause, shown and predicted, per channel.

Capgo checks every channel rollout with auto-pause enabled every 5 minutes and pauses it,
rolls it back or notifies when its bundle fails too often (``triggers/cron_rollout_auto_pause.ts``,
``utils/rollout.ts``). Each channel object carries that policy and its state, which this
collector publishes for every channel with a rollout, from the channels the inventory collector
already fetched: no request of its own.

Exposition (a 25 % rollout with auto-pause on, checked 3 minutes ago)::

    capgo_channel_auto_pause_enabled{app_id="com.acme.app",channel="production"} 1.0
    capgo_channel_auto_pause_threshold_ratio{app_id="com.acme.app",channel="production"} 0.05
    capgo_channel_auto_pause_action{action="pause",app_id="com.acme.app",channel="production"} 1.0
    capgo_channel_auto_pause_last_checked_timestamp_seconds{…} 1.7735766e+09
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.models import App, Channel, Organization
from capgo_exporter.api.stats_rows import MAX_LIMIT
from capgo_exporter.autopause import ACTIONS, MAX_BPS, VERDICTS, evaluate, parse_pause_reason
from capgo_exporter.collect.base import (
    BaseCollector,
    CollectContext,
    CollectResult,
    DeviceLookup,
    Probe,
    app_probe,
)
from capgo_exporter.collect.gate import PermissionGate, per_app_private_route
from capgo_exporter.collect.rollout_counts import (
    Counts,
    has_rollout,
    is_active,
    policy_of,
    window_counts,
)
from capgo_exporter.collect.samples import SampleSet
from capgo_exporter.collectors import CollectorName, spec_of
from capgo_exporter.metrics import MetricSet
from capgo_exporter.settings import Settings

# The metrics this collector fills (catalogue.py finds them through the registry).
METRICS = MetricSet("rollouts")
_LABELS = ("app_id", "channel")
_OF = "Capgo's rollout auto-pause, for channels with a rollout"
AUTO_PAUSE_ENABLED = METRICS.gauge(
    "capgo_channel_auto_pause_enabled",
    f"1 when {_OF} is enabled, 0 otherwise (channel field autoPauseEnabled).",
    *_LABELS,
)
AUTO_PAUSE_THRESHOLD = METRICS.gauge(
    "capgo_channel_auto_pause_threshold_ratio",
    "Failure rate (0-1) whose confidence lower bound makes Capgo's rollout auto-pause act "
    "(channel field autoPauseFailureRateBps / 10000); absent when none is set, and Capgo then "
    "never acts.",
    *_LABELS,
)
AUTO_PAUSE_CONFIDENCE = METRICS.gauge(
    "capgo_channel_auto_pause_confidence",
    f"Confidence of the failure rate's lower bound in {_OF} (channel field "
    "autoPauseConfidence; 0.95 when null, as Capgo reads it).",
    *_LABELS,
)
AUTO_PAUSE_WINDOW = METRICS.gauge(
    "capgo_channel_auto_pause_window_seconds",
    f"Window over which {_OF} counts installs and failures (channel field "
    "autoPauseWindowMinutes x 60; 60 minutes when null or not positive, as Capgo reads it).",
    *_LABELS,
)
AUTO_PAUSE_MIN_ATTEMPTS = METRICS.gauge(
    "capgo_channel_auto_pause_min_attempts",
    f"Attempts (installs + failures) the window needs before {_OF} may act (channel field "
    "autoPauseMinAttempts); absent when null.",
    *_LABELS,
)
AUTO_PAUSE_MIN_FAILURES = METRICS.gauge(
    "capgo_channel_auto_pause_min_failures",
    f"Failures the window needs before {_OF} may act (channel field autoPauseMinFailures); "
    "absent when null.",
    *_LABELS,
)
AUTO_PAUSE_COOLDOWN = METRICS.gauge(
    "capgo_channel_auto_pause_cooldown_seconds",
    f"Time after acting during which {_OF} does not act again (channel field "
    "autoPauseCooldownMinutes x 60; 60 minutes when null, as Capgo reads it).",
    *_LABELS,
)
AUTO_PAUSE_ACTION = METRICS.gauge(
    "capgo_channel_auto_pause_action",
    f"1 for what {_OF} does when it acts, 0 for the other actions (channel field "
    "autoPauseAction: pause, rollback or notify; Capgo pauses on any other value).",
    *_LABELS,
    "action",
)
AUTO_PAUSE_LAST_CHECKED = METRICS.gauge(
    "capgo_channel_auto_pause_last_checked_timestamp_seconds",
    "When Capgo's rollout auto-pause last evaluated the channel's rollout (channel field "
    "autoPauseLastCheckedAt); Capgo checks an active rollout with auto-pause enabled every "
    "5 minutes. Absent when never.",
    *_LABELS,
)
AUTO_PAUSE_LAST_TRIGGERED = METRICS.gauge(
    "capgo_channel_auto_pause_last_triggered_timestamp_seconds",
    "When Capgo's rollout auto-pause last acted on the channel (channel field "
    "autoPauseLastTriggeredAt). Absent when never.",
    *_LABELS,
)
_RECORDED = (
    "recorded in the channel's rolloutPauseReason when Capgo's rollout auto-pause acted; "
    "absent when the reason is another one (a pause by hand) or none"
)
TRIGGERED_FAILURE_RATIO = METRICS.gauge(
    "capgo_channel_auto_pause_triggered_failure_ratio",
    f"Failure rate (0-1) of the rollout bundle {_RECORDED}.",
    *_LABELS,
)
TRIGGERED_LOWER_BOUND = METRICS.gauge(
    "capgo_channel_auto_pause_triggered_lower_bound_ratio",
    f"Confidence lower bound (0-1) of the rollout bundle's failure rate {_RECORDED}.",
    *_LABELS,
)
TRIGGERED_ATTEMPTS = METRICS.gauge(
    "capgo_channel_auto_pause_triggered_attempts",
    f"Install attempts of the rollout bundle {_RECORDED}.",
    *_LABELS,
)

_PREDICTED = (
    "for active rollouts (enabled, a share above 0, a rollout bundle, not paused), whether or "
    "not auto-pause is on"
)
_EVENTS = (
    "in the channel's auto-pause window ending now, from production devices that are not "
    "emulators (POST /private/stats rows, a private route that needs app.read_logs; devices "
    "as the devices collector's index knows them)"
)
ROLLOUT_ATTEMPTS = METRICS.gauge(
    "capgo_channel_rollout_attempts",
    "Install attempts of the channel's rollout bundle as Capgo's rollout auto-pause counts "
    f"them: set events plus events whose action ends in _fail, {_EVENTS}; {_PREDICTED}.",
    *_LABELS,
)
ROLLOUT_FAILURES = METRICS.gauge(
    "capgo_channel_rollout_failures",
    "Failed install attempts of the channel's rollout bundle (events whose action ends in "
    f"_fail), {_EVENTS}; {_PREDICTED}.",
    *_LABELS,
)
ROLLOUT_LOWER_BOUND = METRICS.gauge(
    "capgo_channel_rollout_failure_lower_bound_ratio",
    "Wilson score lower bound (0-1) of the rollout bundle's failure rate at the channel's "
    "auto-pause confidence, computed as Capgo computes it (integer basis points / 10000), "
    f"from capgo_channel_rollout_attempts and _failures; {_PREDICTED}.",
    *_LABELS,
)
AUTO_PAUSE_VERDICT = METRICS.gauge(
    "capgo_channel_auto_pause_verdict",
    "1 on the reason Capgo's rollout auto-pause check would give now, 0 on the others: "
    "disabled, missing_threshold, cooldown, insufficient_attempts, insufficient_failures, "
    f"below_threshold or trigger (it acts); {_PREDICTED}.",
    *_LABELS,
    "reason",
)
STABLE_ATTEMPTS = METRICS.gauge(
    "capgo_channel_stable_attempts",
    "Install attempts of the channel's stable bundle (its current version), counted like "
    f"capgo_channel_rollout_attempts over the same window; {_PREDICTED}.",
    *_LABELS,
)
STABLE_FAILURES = METRICS.gauge(
    "capgo_channel_stable_failures",
    "Failed install attempts of the channel's stable bundle, counted like "
    f"capgo_channel_rollout_failures over the same window; {_PREDICTED}.",
    *_LABELS,
)

_MINUTE = 60.0


class RolloutsCollector(BaseCollector):
    """``rows_limit``: rows asked for per request (Capgo's maximum; tests make it small to
    see ranges split)."""

    name: CollectorName = "rollouts"

    def __init__(self, *, gate: PermissionGate | None = None, rows_limit: int = MAX_LIMIT) -> None:
        super().__init__(gate=gate)
        self._rows_limit = rows_limit
        self._warned_no_devices = False

    async def collect(self, context: CollectContext) -> CollectResult:
        discovery = self.discovery_of(context)
        now = context.now()
        samples = SampleSet()
        active: dict[str, list[Channel]] = {}
        for app_id, channels in discovery.channels.items():
            for channel in channels:
                if has_rollout(channel):
                    _policy_samples(samples, app_id, channel)
                if is_active(channel):
                    active.setdefault(app_id, []).append(channel)
        devices = self._devices(context) if active else None
        skipped: list[str] = []
        if devices is not None:
            apps = [app_id for app_id in active if devices.walked(app_id)]
            outcomes = await asyncio.gather(
                *(self._app(context, devices, app_id, active[app_id], now) for app_id in apps)
            )
            for app_id, outcome in zip(apps, outcomes, strict=True):
                if outcome is None:
                    skipped.append(_part(app_id))
                else:
                    _prediction_samples(samples, app_id, active[app_id], outcome, now)
        return CollectResult(samples.freeze(), skipped=tuple(skipped))

    def _devices(self, context: CollectContext) -> DeviceLookup | None:
        """The device index; None until the devices collector has run (or when it is off)."""
        off = not any(spec_of(name).keeps_device_index for name in context.settings.collectors)
        if context.devices is None and off and not self._warned_no_devices:
            context.log.warning(
                "rollout verdicts need the device index: enable the devices collector",
                hint="Capgo's auto-pause counts production devices that are not emulators",
            )
            self._warned_no_devices = True
        return context.devices

    async def _app(
        self,
        context: CollectContext,
        devices: DeviceLookup,
        app_id: str,
        channels: list[Channel],
        now: datetime,
    ) -> dict[timedelta, dict[str, Counts]] | None:
        """Counts per bundle for each window the app's active rollouts use (one request
        each, channels sharing a window share it); None when the app is skipped."""
        windows = sorted({policy_of(channel).window for channel in channels})

        async def counted() -> dict[timedelta, dict[str, Counts]]:
            limit = self._rows_limit
            counts = await asyncio.gather(
                *(
                    window_counts(context.client, devices, app_id, now - w, now, limit=limit)
                    for w in windows
                )
            )
            return dict(zip(windows, counts, strict=True))

        return await per_app_private_route(
            self._gate, context.log, app_id, self.name, "rollout verdicts", counted()
        )


def _part(app_id: str) -> str:
    return f"rollouts:{app_id}"


def _prediction_samples(
    samples: SampleSet,
    app_id: str,
    channels: list[Channel],
    counts: dict[timedelta, dict[str, Counts]],
    now: datetime,
) -> None:
    """What Capgo's check would decide now, for each active rollout of the app."""
    for channel in channels:
        name, policy = channel.name, policy_of(channel)
        by_bundle = counts[policy.window]
        rollout = by_bundle.get(channel.rollout_bundle_name or "", Counts())
        result = evaluate(policy, rollout.installs, rollout.failures, now)
        samples.set(ROLLOUT_ATTEMPTS, result.attempts, app_id, name)
        samples.set(ROLLOUT_FAILURES, result.failures, app_id, name)
        samples.set(ROLLOUT_LOWER_BOUND, result.lower_bound_bps / MAX_BPS, app_id, name)
        for verdict in VERDICTS:
            value = 1 if verdict == result.verdict else 0
            samples.set(AUTO_PAUSE_VERDICT, value, app_id, name, verdict)
        if channel.bundle_name is not None:
            stable = by_bundle.get(channel.bundle_name, Counts())
            samples.set(STABLE_ATTEMPTS, stable.attempts, app_id, name)
            samples.set(STABLE_FAILURES, stable.failures, app_id, name)


def _policy_samples(samples: SampleSet, app_id: str, channel: Channel) -> None:
    """The channel's auto-pause settings and state, as Capgo's check reads them."""
    name, policy = channel.name, policy_of(channel)
    samples.set(AUTO_PAUSE_ENABLED, 1 if policy.enabled else 0, app_id, name)
    if policy.threshold_bps is not None:
        samples.set(AUTO_PAUSE_THRESHOLD, policy.threshold_bps / MAX_BPS, app_id, name)
    samples.set(AUTO_PAUSE_CONFIDENCE, policy.confidence, app_id, name)
    samples.set(AUTO_PAUSE_WINDOW, policy.window_minutes * _MINUTE, app_id, name)
    if policy.min_attempts is not None:
        samples.set(AUTO_PAUSE_MIN_ATTEMPTS, policy.min_attempts, app_id, name)
    if policy.min_failures is not None:
        samples.set(AUTO_PAUSE_MIN_FAILURES, policy.min_failures, app_id, name)
    samples.set(AUTO_PAUSE_COOLDOWN, policy.cooldown_minutes * _MINUTE, app_id, name)
    for action in ACTIONS:
        samples.set(AUTO_PAUSE_ACTION, 1 if action == policy.action else 0, app_id, name, action)
    if channel.auto_pause_last_checked_at is not None:
        checked = channel.auto_pause_last_checked_at.timestamp()
        samples.set(AUTO_PAUSE_LAST_CHECKED, checked, app_id, name)
    if policy.last_triggered_at is not None:
        triggered_at = policy.last_triggered_at.timestamp()
        samples.set(AUTO_PAUSE_LAST_TRIGGERED, triggered_at, app_id, name)
    triggered = parse_pause_reason(channel.rollout_pause_reason)
    if triggered is not None:
        samples.set(TRIGGERED_FAILURE_RATIO, triggered.failure_rate_bps / MAX_BPS, app_id, name)
        samples.set(TRIGGERED_LOWER_BOUND, triggered.lower_bound_bps / MAX_BPS, app_id, name)
        samples.set(TRIGGERED_ATTEMPTS, triggered.attempts, app_id, name)


def build(settings: Settings) -> RolloutsCollector:
    return RolloutsCollector()


def probes(
    client: CapgoClient, org: Organization | None, app: App | None, today: date
) -> list[Probe]:
    # The policy comes from GET /channel, which the inventory collector probes.
    return app_probe(app, "POST /private/stats", "rollouts", partial(_rows, client, today))


async def _rows(client: CapgoClient, today: date, app_id: str) -> str:
    # One row of today's first minute: a count would change with the minute; the doc's check
    # output must not.
    start = datetime.combine(today, time(), UTC)
    await client.stats_rows.rows(
        app_id, start, start + timedelta(minutes=1), actions=("set",), limit=1
    )
    return "device event rows readable"
