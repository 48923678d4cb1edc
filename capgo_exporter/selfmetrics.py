"""The exporter's own metrics: declared here (``METRICS``: ``capgo_up`` and the
``capgo_exporter_*`` metrics but ``capgo_exporter_devices_tracked``, which the devices
collector fills), kept in a small live registry rendered on every scrape.

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
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.metrics_core import Metric

from capgo_exporter import __version__
from capgo_exporter.api.routes import polled_routes
from capgo_exporter.buildinfo import python_version, revision
from capgo_exporter.collect.labels import printable
from capgo_exporter.exposition import render_openmetrics, render_text
from capgo_exporter.metrics import MetricSet, MetricSpec

# Live, never cached; catalogue.py lists them after the collectors' metrics.
METRICS = MetricSet()
UP = METRICS.gauge(
    "capgo_up",
    "1 when the last run of every enabled collector succeeded, no run in progress has lasted "
    "longer than its interval and no Retry-After pause from Capgo holds the requests; "
    "0 otherwise.",
)
COLLECTOR_UP = METRICS.gauge(
    "capgo_exporter_collector_up",
    "1 when the collector's last run succeeded and left nothing out, and its run in progress (if "
    "any) has not lasted longer than its interval. A failed collector keeps serving its last "
    "good data until --collector.max-age. 0 with capgo_up 1: the run succeeded but left parts "
    "out (the events collector, for apps whose events Capgo would not give).",
    "collector",
)
COLLECTOR_LAST_SUCCESS = METRICS.gauge(
    "capgo_exporter_collector_last_success_timestamp_seconds",
    "When the collector last finished a run successfully (0 before the first success).",
    "collector",
)
COLLECTOR_MAX_AGE = METRICS.gauge(
    "capgo_exporter_collector_max_age_seconds",
    "Age past which the collector's figures are dropped rather than served: the value the "
    "exporter uses, --collector.max-age or, when that is unset, three times the collector's "
    "interval. Set once at start; the staleness alerts compare each collector's last success "
    "with it.",
    "collector",
)
COLLECTOR_DURATION = METRICS.gauge(
    "capgo_exporter_collector_duration_seconds",
    "Duration of the collector's last run.",
    "collector",
)
API_REQUESTS = METRICS.counter(
    "capgo_exporter_api_requests_total",
    "Requests sent to the Capgo API, by route template and HTTP status "
    "(timeout and connection_error when no answer came).",
    "endpoint",
    "code",
)
API_REQUEST_DURATION = METRICS.histogram(
    "capgo_exporter_api_request_duration_seconds",
    "Duration of requests to the Capgo API, by route template.",
    "endpoint",
)
API_RETRIES = METRICS.counter(
    "capgo_exporter_api_retries_total",
    "Requests to the Capgo API sent again, by route template and reason "
    "(rate_limited, server_error, timeout, connection_error, malformed_response).",
    "endpoint",
    "reason",
)
API_BACKOFF = METRICS.gauge(
    "capgo_exporter_api_backoff_seconds",
    "Seconds each request to a route template waits before it is sent while Capgo keeps "
    "failing there (5xx, timeouts, connection errors, malformed bodies): exponential with "
    "jitter, capped at the shortest collector interval, 0 again after the first success.",
    "endpoint",
)
API_CIRCUIT_OPEN = METRICS.gauge(
    "capgo_exporter_api_circuit_open",
    "1 while Capgo fails as a whole (6 failed requests in a row: 5xx, timeouts, connection "
    "errors, bodies that are not JSON or too large): nothing is sent but one probe now and "
    "then (first after the shortest collector interval, at least 6 s, then twice as long "
    "after each failed probe, up to 2 minutes or that interval); 0 once a probe is answered.",
)
DEVICE_WALK_IN_PROGRESS = METRICS.gauge(
    "capgo_exporter_device_walk_in_progress",
    "1 while a walk of the app's devices (full or incremental) is running, 0 once it ended. "
    "The app's device metrics come only from complete walks.",
    "app_id",
)
DEVICE_WALK_PAGES = METRICS.gauge(
    "capgo_exporter_device_walk_pages",
    "Pages of devices received by the app's current walk, or by its last one when none runs.",
    "app_id",
)
DEVICE_WALK_DEVICES = METRICS.gauge(
    "capgo_exporter_device_walk_devices",
    "Devices received by the app's current walk, or by its last one when none runs; against "
    "capgo_exporter_devices_tracked it shows how far a first or full walk has come.",
    "app_id",
)
DEVICE_PAGE_SIZE = METRICS.gauge(
    "capgo_exporter_device_page_size",
    "Devices asked for per GET /device request: 50000 by default, 999 once Capgo proved to "
    "cut pages at 1000, or the configured size.",
)
DEMO_MODE = METRICS.gauge(
    "capgo_exporter_demo_mode",
    "1 when every figure comes from the built-in simulated Capgo (--demo), 0 against a real one.",
)
BUILD_INFO = METRICS.gauge(
    "capgo_exporter_build_info",
    "Version and source revision (git commit, or unknown) of capgo-exporter, and the version "
    "of Python running it; always 1.",
    "version",
    "revision",
    "python_version",
)
API_BUDGET = METRICS.gauge(
    "capgo_exporter_api_budget_requests_per_minute",
    "Requests a minute the exporter allows itself against Capgo, shared by every collector "
    "(--capgo.requests-per-minute). Set once at start.",
)

# Route templates the collectors poll (each API module declares its own), so that their
# series exist before the first request.
EXPORTER_ENDPOINTS: Final = polled_routes()
RETRY_REASONS = (
    "rate_limited",
    "server_error",
    "timeout",
    "connection_error",
    "malformed_response",
)
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


_EOF = b"# EOF\n"


def _gauge(spec: MetricSpec, registry: CollectorRegistry) -> Gauge:
    return Gauge(spec.name, spec.help, spec.labels, registry=registry)


def _counter(spec: MetricSpec, registry: CollectorRegistry) -> Counter:
    # client_python adds the _total suffix itself.
    return Counter(spec.name.removesuffix("_total"), spec.help, spec.labels, registry=registry)


def _histogram(spec: MetricSpec, registry: CollectorRegistry) -> Histogram:
    return Histogram(
        spec.name, spec.help, spec.labels, buckets=_DURATION_BUCKETS, registry=registry
    )


class _WithoutCreated:
    """A registry's metrics without the ``_created`` sample client_python gives each counter
    and histogram: it would double the counters for no use here (and differ between the two
    formats). Dropped where rendered, instead of through client_python's process-wide switch
    (``disable_created_metrics``), which would change other registries in the process too."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            created = f"{metric.name}_created"
            kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            kept.samples = [sample for sample in metric.samples if sample.name != created]
            yield kept


class SelfMetrics:
    def __init__(
        self,
        collectors: Iterable[str],
        *,
        process_metrics: bool = True,
        demo: bool = False,
        max_age_for: Callable[[str], float] | None = None,
        budget: float | None = None,
    ) -> None:
        """``max_age_for``: each collector's max age in seconds (``Settings.max_age_for``),
        published once here; without it no max-age series is served. ``budget``: the request
        budget a minute, published once (none without it)."""
        self.registry = CollectorRegistry(auto_describe=False)
        self._process = CollectorRegistry(auto_describe=False)
        # Bumped on every change; a cached rendering is valid while the version is the same.
        self._version = 0
        self._rendered: dict[bool, tuple[int, bytes]] = {}
        r = self.registry
        self.up = _gauge(UP, r)
        self.collector_up = _gauge(COLLECTOR_UP, r)
        self.collector_last_success = _gauge(COLLECTOR_LAST_SUCCESS, r)
        self.collector_max_age = _gauge(COLLECTOR_MAX_AGE, r)
        self.collector_duration = _gauge(COLLECTOR_DURATION, r)
        self.requests = _counter(API_REQUESTS, r)
        self.request_duration = _histogram(API_REQUEST_DURATION, r)
        self.retries = _counter(API_RETRIES, r)
        self.backoff = _gauge(API_BACKOFF, r)
        self.circuit_open = _gauge(API_CIRCUIT_OPEN, r)
        self.walk_in_progress = _gauge(DEVICE_WALK_IN_PROGRESS, r)
        self.walk_pages = _gauge(DEVICE_WALK_PAGES, r)
        self.walk_devices = _gauge(DEVICE_WALK_DEVICES, r)
        self.page_size = _gauge(DEVICE_PAGE_SIZE, r)
        _gauge(BUILD_INFO, r).labels(__version__, revision(), python_version()).set(1)
        if budget is not None:
            _gauge(API_BUDGET, r).set(budget)
        _gauge(DEMO_MODE, r).set(1 if demo else 0)
        if process_metrics:
            ProcessCollector(registry=self._process)
        self._start_at_zero(collectors, max_age_for)

    def _start_at_zero(
        self, collectors: Iterable[str], max_age_for: Callable[[str], float] | None
    ) -> None:
        """The known label sets, so that rate() and alerts work from the first scrape."""
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

    def circuit_changed(self, is_open: bool) -> None:
        self.circuit_open.set(1 if is_open else 0)
        self._version += 1

    # The devices collector's reports (WalkObserver)
    def device_walk_progress(self, app_id: str, *, pages: int, devices: int, walking: bool) -> None:
        app_id = printable(app_id)  # as the collectors' labels (collect/labels.py)
        self.walk_in_progress.labels(app_id).set(1 if walking else 0)
        self.walk_pages.labels(app_id).set(pages)
        self.walk_devices.labels(app_id).set(devices)
        self._version += 1

    def device_page_size(self, size: int) -> None:
        self.page_size.set(size)
        self._version += 1

    def device_walk_forgotten(self, app_id: str) -> None:
        app_id = printable(app_id)
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
        """The collector's data passed their max age and were dropped, or its run in progress
        is overdue (no run has ended)."""
        self.collector_up.labels(name).set(0)
        self._version += 1

    def collector_health(self, name: str, up: bool) -> None:
        """The collector's up again as its last run left it (an overdue run no longer is)."""
        self.collector_up.labels(name).set(1 if up else 0)
        self._version += 1

    def set_up(self, up: bool) -> None:
        self.up.set(1 if up else 0)
        self._version += 1

    def render(self, *, openmetrics: bool = False) -> bytes:
        """Text format, or OpenMetrics ending with ``# EOF``."""
        version = self._version
        cached = self._rendered.get(openmetrics)
        if cached is None or cached[0] != version:
            source = _WithoutCreated(self.registry)
            body = render_openmetrics(source) if openmetrics else render_text(source)
            cached = (version, body.removesuffix(_EOF))
            self._rendered[openmetrics] = cached
        if openmetrics:
            return cached[1] + render_openmetrics(self._process)
        return cached[1] + render_text(self._process)
