"""The exporter's own metrics: a small live registry rendered on every scrape.

It is also the API client's :class:`~capgo_exporter.api.RequestObserver`, counting requests by
route template and status, their durations and the retries. Known label sets start at zero so
that ``rate()`` and alerts work from the first scrape.

Rendering these ~200 series through client_python costs over a millisecond, most of a
scrape's time, yet they change only when a request is made or a collector run ends. So the
rendered bytes are kept until the next change (every change goes through a method here), and
only the process metrics, which change all the time and cost little, are rendered per scrape.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Callable, Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

from capgo_exporter import __version__
from capgo_exporter.exposition import render_openmetrics, render_text
from capgo_exporter.metrics import (
    API_BACKOFF,
    API_REQUEST_DURATION,
    API_REQUESTS,
    API_RETRIES,
    BUILD_INFO,
    COLLECTOR_DURATION,
    COLLECTOR_LAST_SUCCESS,
    COLLECTOR_MAX_AGE,
    COLLECTOR_UP,
    DEMO_MODE,
    DEVICE_PAGE_SIZE,
    DEVICE_WALK_DEVICES,
    DEVICE_WALK_IN_PROGRESS,
    DEVICE_WALK_PAGES,
    UP,
)

# _created series would double the counters for no use here (and differ between formats).
disable_created_metrics()  # type: ignore[no-untyped-call]

# Route templates the daemon polls, so their counters exist before the first request.
EXPORTER_ENDPOINTS = (
    "/organization",
    "/organization/members",
    "/apikey",
    "/app",
    "/channel",
    "/bundle",
    "/device",
    "/statistics/org/{org_id}",
    "/statistics/app/{app_id}",
    "/statistics/app/{app_id}/bundle_usage",
    "/private/stats/insights",
)
RETRY_REASONS = (
    "rate_limited",
    "server_error",
    "timeout",
    "connection_error",
    "malformed_response",
)
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


_EOF = b"# EOF\n"


class SelfMetrics:
    def __init__(
        self,
        collectors: Iterable[str],
        *,
        process_metrics: bool = True,
        demo: bool = False,
        max_age_for: Callable[[str], float] | None = None,
    ) -> None:
        """``max_age_for``: each collector's max age in seconds (``Settings.max_age_for``),
        published once here; without it no max-age series is served."""
        self.registry = CollectorRegistry(auto_describe=False)
        self._process = CollectorRegistry(auto_describe=False)
        # Bumped on every change; a cached rendering is valid while the version is the same.
        self._version = 0
        self._rendered: dict[bool, tuple[int, bytes]] = {}
        r = self.registry
        self.up = Gauge(UP.name, UP.help, registry=r)
        self.collector_up = Gauge(
            COLLECTOR_UP.name, COLLECTOR_UP.help, COLLECTOR_UP.labels, registry=r
        )
        self.collector_last_success = Gauge(
            COLLECTOR_LAST_SUCCESS.name,
            COLLECTOR_LAST_SUCCESS.help,
            COLLECTOR_LAST_SUCCESS.labels,
            registry=r,
        )
        self.collector_max_age = Gauge(
            COLLECTOR_MAX_AGE.name, COLLECTOR_MAX_AGE.help, COLLECTOR_MAX_AGE.labels, registry=r
        )
        self.collector_duration = Gauge(
            COLLECTOR_DURATION.name, COLLECTOR_DURATION.help, COLLECTOR_DURATION.labels, registry=r
        )
        self.requests = Counter(
            API_REQUESTS.name.removesuffix("_total"),
            API_REQUESTS.help,
            API_REQUESTS.labels,
            registry=r,
        )
        self.request_duration = Histogram(
            API_REQUEST_DURATION.name,
            API_REQUEST_DURATION.help,
            API_REQUEST_DURATION.labels,
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            API_RETRIES.name.removesuffix("_total"),
            API_RETRIES.help,
            API_RETRIES.labels,
            registry=r,
        )
        self.backoff = Gauge(API_BACKOFF.name, API_BACKOFF.help, API_BACKOFF.labels, registry=r)
        self.walk_in_progress = Gauge(
            DEVICE_WALK_IN_PROGRESS.name,
            DEVICE_WALK_IN_PROGRESS.help,
            DEVICE_WALK_IN_PROGRESS.labels,
            registry=r,
        )
        self.walk_pages = Gauge(
            DEVICE_WALK_PAGES.name, DEVICE_WALK_PAGES.help, DEVICE_WALK_PAGES.labels, registry=r
        )
        self.walk_devices = Gauge(
            DEVICE_WALK_DEVICES.name,
            DEVICE_WALK_DEVICES.help,
            DEVICE_WALK_DEVICES.labels,
            registry=r,
        )
        self.page_size = Gauge(DEVICE_PAGE_SIZE.name, DEVICE_PAGE_SIZE.help, registry=r)
        Gauge(BUILD_INFO.name, BUILD_INFO.help, BUILD_INFO.labels, registry=r).labels(
            __version__, platform.python_version()
        ).set(1)
        Gauge(DEMO_MODE.name, DEMO_MODE.help, registry=r).set(1 if demo else 0)
        if process_metrics:
            ProcessCollector(registry=self._process)
        for name in collectors:
            self.collector_up.labels(name)
            self.collector_last_success.labels(name)
            self.collector_duration.labels(name)
            if max_age_for is not None:
                self.collector_max_age.labels(name).set(max_age_for(name))
        for endpoint in EXPORTER_ENDPOINTS:
            self.request_duration.labels(endpoint)
            self.backoff.labels(endpoint)
            for reason in RETRY_REASONS:
                self.retries.labels(endpoint, reason)

    # RequestObserver
    def request_finished(self, endpoint: str, code: str, seconds: float) -> None:
        self.requests.labels(endpoint, code).inc()
        self.request_duration.labels(endpoint).observe(seconds)
        self._version += 1

    def request_retried(self, endpoint: str, reason: str) -> None:
        self.retries.labels(endpoint, reason).inc()
        self._version += 1

    def backoff_changed(self, endpoint: str, seconds: float) -> None:
        self.backoff.labels(endpoint).set(seconds)
        self._version += 1

    # The devices collector's reports (WalkObserver)
    def device_walk_progress(self, app_id: str, *, pages: int, devices: int, walking: bool) -> None:
        self.walk_in_progress.labels(app_id).set(1 if walking else 0)
        self.walk_pages.labels(app_id).set(pages)
        self.walk_devices.labels(app_id).set(devices)
        self._version += 1

    def device_page_size(self, size: int) -> None:
        self.page_size.set(size)
        self._version += 1

    def device_walk_forgotten(self, app_id: str) -> None:
        for gauge in (self.walk_in_progress, self.walk_pages, self.walk_devices):
            with contextlib.suppress(KeyError):  # never walked: nothing to remove
                gauge.remove(app_id)
        self._version += 1

    # The scheduler's reports
    def collector_finished(
        self,
        name: str,
        *,
        succeeded: bool,
        seconds: float,
        finished_at: float,
        complete: bool = True,
    ) -> None:
        """``complete``: the run left nothing out; a successful run that skipped a part
        (one app's events) still counts as a success, but its collector_up says 0."""
        self.collector_duration.labels(name).set(seconds)
        self.collector_up.labels(name).set(1 if succeeded and complete else 0)
        if succeeded:
            self.collector_last_success.labels(name).set(finished_at)
        self._version += 1

    def collector_down(self, name: str) -> None:
        """The collector's data passed their max age and were dropped (no run has ended)."""
        self.collector_up.labels(name).set(0)
        self._version += 1

    def set_up(self, up: bool) -> None:
        self.up.set(1 if up else 0)
        self._version += 1

    def render(self, *, openmetrics: bool = False) -> bytes:
        """Text format, or OpenMetrics ending with ``# EOF``."""
        version = self._version
        cached = self._rendered.get(openmetrics)
        if cached is None or cached[0] != version:
            body = render_openmetrics(self.registry) if openmetrics else render_text(self.registry)
            cached = (version, body.removesuffix(_EOF))
            self._rendered[openmetrics] = cached
        if openmetrics:
            return cached[1] + render_openmetrics(self._process)
        return cached[1] + render_text(self._process)
