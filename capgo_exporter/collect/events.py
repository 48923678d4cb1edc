"""The events collector: release health from the device events Capgo counts per app and bundle.

Per app, two calls to ``POST /private/stats/insights`` over the configured window (1, 3, 7 or
30 whole UTC days ending today): one for the success action ``set`` (a bundle installed and
activated), one for the server's default failure list (failed downloads and updates, crashes,
webview errors). Two calls because the route's top-30 (action, bundle) limit applies per call:
asked together, a failing release's rows would crowd out the installs it is measured against.

The route is private: a 404 (gone), a 400 ``app_access_denied`` (the key lacks
``app.read_logs``) or an answer whose shape changed skips that app's events with one warning
that says what to do, and is tried again an hour later. Health, while an app is skipped: the
run still succeeds, so the other apps' figures are served and ``capgo_up`` stays 1 (as do the
other collectors); ``capgo_exporter_collector_up{collector="events"}`` is 0, because figures
the collector should publish are missing, until a run reads every app again (the skipped apps
are the run's ``skipped`` parts, listed on the landing page). Any other failure (5xx, 429,
timeouts, a body cut short or not JSON at all: a fault of that answer, not a changed route)
fails the run as for every collector. Fleets that send no statistics report nothing:
zeros, not an error, and the collector stays up.

Exposition::

    capgo_events_window_seconds 604800.0
    capgo_app_events{app_id="com.acme.shop",action="set"} 412.0
    capgo_bundle_events{app_id="com.acme.shop",bundle="1.4.0",action="app_crash"} 51.0
"""

from __future__ import annotations

import asyncio
from datetime import date
from functools import partial

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.insights import DEFAULT_FAILURE_ACTIONS, TOP_ACTIONS, Insight
from capgo_exporter.api.models import App, Organization
from capgo_exporter.collect import labels
from capgo_exporter.collect.base import (
    BaseCollector,
    CollectContext,
    CollectResult,
    Probe,
    app_probe,
)
from capgo_exporter.collect.gate import per_app_private_route
from capgo_exporter.collect.samples import SampleSet
from capgo_exporter.collectors import CollectorName
from capgo_exporter.metrics import MetricSet
from capgo_exporter.settings import Settings

# The metrics this collector fills (catalogue.py finds them through the registry).
METRICS = MetricSet("events")
_INSIGHTS = "POST /private/stats/insights, a private route; needs app.read_logs"
EVENTS_WINDOW = METRICS.gauge(
    "capgo_events_window_seconds",
    "Length of the window the capgo_*event* figures count: the last 1, 3, 7 or 30 whole UTC "
    "days, today included (--collector.events.days).",
)
APP_EVENTS = METRICS.gauge(
    "capgo_app_events",
    "Device events of the action reported in the window: set = bundle installed, the failure "
    f"actions, crashes ({_INSIGHTS}). Every requested action has a series (0 when none) unless "
    "the route's top-20 actions cut it.",
    "app_id",
    "action",
)
APP_EVENT_DEVICES = METRICS.gauge(
    "capgo_app_event_devices",
    f"Distinct devices that reported the action in the window ({_INSIGHTS}).",
    "app_id",
    "action",
)
BUNDLE_EVENTS = METRICS.gauge(
    "capgo_bundle_events",
    "Device events of the action reported in the window by devices running the bundle; only the "
    f"route's top 30 (action, bundle) pairs per request ({_INSIGHTS}).",
    "app_id",
    "bundle",
    "action",
)
BUNDLE_EVENT_DEVICES = METRICS.gauge(
    "capgo_bundle_event_devices",
    "Distinct devices running the bundle that reported the action in the window; the route's "
    f"top 30 (action, bundle) pairs per request ({_INSIGHTS}).",
    "app_id",
    "bundle",
    "action",
)

SUCCESS_ACTIONS = ("set",)
_DAY = 86_400


class EventsCollector(BaseCollector):
    name: CollectorName = "events"

    async def collect(self, context: CollectContext) -> CollectResult:
        apps = self.discovery_of(context).apps
        days = context.settings.events_days
        answers = await asyncio.gather(*(self._app(context, app.app_id, days) for app in apps))
        samples = SampleSet()
        samples.set(EVENTS_WINDOW, days * _DAY)
        skipped = []
        for app, answer in zip(apps, answers, strict=True):
            if answer is None:  # skipped now, or still within the hour of an earlier skip
                skipped.append(_part(app.app_id))
            else:
                _publish(samples, app.app_id, answer)
        return CollectResult(samples.freeze(), skipped=tuple(skipped))

    async def _app(
        self, context: CollectContext, app_id: str, days: int
    ) -> tuple[tuple[str, ...], Insight, Insight] | None:
        """Both answers, or None when this app's events are skipped for a while."""
        return await per_app_private_route(
            self._gate,
            context.log,
            app_id,
            self.name,
            "device events",
            _answers(context, app_id, days),
        )


async def _answers(
    context: CollectContext, app_id: str, days: int
) -> tuple[tuple[str, ...], Insight, Insight]:
    insights = context.client.insights
    success, failures = await asyncio.gather(
        insights.app(app_id, days=days, actions=SUCCESS_ACTIONS),
        insights.app(app_id, days=days),
    )
    return SUCCESS_ACTIONS, success, failures


def _part(app_id: str) -> str:
    return f"events:{app_id}"


def _publish(
    samples: SampleSet, app_id: str, answer: tuple[tuple[str, ...], Insight, Insight]
) -> None:
    success_actions, success, failures = answer
    for requested, insight in ((success_actions, success), (DEFAULT_FAILURE_ACTIONS, failures)):
        listed = {row.action: row for row in insight.actions}
        # Below the top-20 cut, an action the answer does not list had no events: publish 0,
        # so every app has the same series whatever its fleet reports. At the cut, absent
        # actions are unknown, not zero.
        complete = len(insight.actions) < TOP_ACTIONS
        for action in requested:
            row = listed.pop(action, None)
            if row is not None:
                samples.set(APP_EVENTS, row.total, app_id, action)
                samples.set(APP_EVENT_DEVICES, row.device_count, app_id, action)
            elif complete:
                samples.set(APP_EVENTS, 0, app_id, action)
                samples.set(APP_EVENT_DEVICES, 0, app_id, action)
        for row in listed.values():  # an action the server added to its default list
            samples.set(APP_EVENTS, row.total, app_id, labels.text(row.action))
            samples.set(APP_EVENT_DEVICES, row.device_count, app_id, labels.text(row.action))
        for pair in insight.versions:
            bundle, action = labels.text(pair.version_name), labels.text(pair.action)
            samples.set(BUNDLE_EVENTS, pair.total, app_id, bundle, action)
            samples.set(BUNDLE_EVENT_DEVICES, pair.device_count, app_id, bundle, action)


def build(settings: Settings) -> EventsCollector:
    return EventsCollector()


def probes(
    client: CapgoClient, org: Organization | None, app: App | None, today: date
) -> list[Probe]:
    return app_probe(app, "POST /private/stats/insights", "events", partial(_insight, client))


async def _insight(client: CapgoClient, app_id: str) -> str:
    # A count would change with the day; the doc's check output must not.
    await client.insights.app(app_id, days=1)
    return "device events readable"
