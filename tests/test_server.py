"""The HTTP surface: routes, formats, gzip, headers, keep-alive and a clean shutdown."""

from __future__ import annotations

import gzip
import http.client
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text
from structlog.testing import capture_logs

from capgo_exporter import __version__, snapshot
from capgo_exporter.collect.devices.collector import APP_DEVICES
from capgo_exporter.collect.inventory import APP_INFO
from capgo_exporter.collect.samples import SampleSet
from capgo_exporter.landing import render_landing_page
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp, ExporterServer, gzip_accepted, host_port
from capgo_exporter.snapshot import Part, Snapshot, SnapshotHolder
from capgo_exporter.status import CollectorStatus
from capgo_exporter.webconfig import WebConfig
from tests.e2e.conftest import free_port

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
NOW = 1_760_000_000.0


@dataclass
class StubStatus:
    statuses: list[CollectorStatus] = field(
        default_factory=lambda: [CollectorStatus("devices", 300.0)]
    )
    is_healthy: bool = True
    is_ready: bool = True

    def collector_statuses(self) -> list[CollectorStatus]:
        return self.statuses

    def healthy(self) -> bool:
        return self.is_healthy

    def ready(self) -> bool:
        return self.is_ready


def small_snapshot() -> Snapshot:
    devices, inventory = SampleSet(), SampleSet()
    devices.set(APP_DEVICES, 42, "com.demo.app", "ios", "1.2.0", "true", "false")
    devices.set(APP_DEVICES, 7, "com.demo.app", "android", "1.1.0", "true", "false")
    inventory.set(APP_INFO, 1, "org-1", "com.demo.app", 'Demo "app"\n')
    return Snapshot.render(
        {
            "devices": Part(devices.freeze(), NOW),
            "inventory": Part(inventory.freeze(), NOW),
        }
    )


@contextmanager
def serving(status: StubStatus | None = None, web_config: WebConfig | None = None) -> Iterator[str]:
    """A server on a free loopback port; yields its base URL (ending with "/")."""
    holder = SnapshotHolder()
    holder.current = small_snapshot()
    # Without process metrics the live part is the same from one scrape to the next.
    self_metrics = SelfMetrics(["devices"], process_metrics=False)
    app = ExporterApp(
        holder, self_metrics, status or StubStatus(), web_config=web_config, wall_clock=lambda: NOW
    )
    server = ExporterServer(app, "127.0.0.1", 0, web_config=web_config)
    server.start()
    try:
        yield server.url
    finally:
        server.shutdown(timeout=5)


@pytest.fixture
def status() -> StubStatus:
    return StubStatus()


@pytest.fixture
def client(status: StubStatus) -> Iterator[httpx.Client]:
    headers = {"Accept-Encoding": "identity"}
    with serving(status) as url, httpx.Client(base_url=url, headers=headers) as client:
        yield client


def raw_get(client: httpx.Client, path: str, **headers: str) -> httpx.Response:
    """The response as sent: httpx would otherwise decode gzip itself."""
    with client.stream("GET", path, headers=headers) as response:
        response.raw_bytes = b"".join(response.iter_raw())  # type: ignore[attr-defined]
    return response


# --- /metrics ------------------------------------------------------------------------------


def test_text_format_is_the_snapshot_then_the_live_self_metrics(client: httpx.Client) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"] == TEXT
    body = response.content
    assert body.startswith(small_snapshot().text)
    names = [family.name for family in parse_text(body.decode())]
    assert names[:2] == ["capgo_app_info", "capgo_app_devices"]
    assert "capgo_up" in names
    assert len(names) == len(set(names))


def test_openmetrics_when_asked_ends_with_a_single_eof(client: httpx.Client) -> None:
    response = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0,*/*;q=0.1"}
    )
    assert response.headers["content-type"] == OPENMETRICS
    body = response.content
    assert body.startswith(small_snapshot().openmetrics)
    assert body.endswith(b"# EOF\n")
    assert body.count(b"# EOF") == 1
    families = {f.name: f for f in parse_openmetrics(body.decode())}  # type: ignore[no-untyped-call]
    # The quote escaped and back; the newline replaced where the sample was set.
    assert families["capgo_app_info"].samples[0].labels["app_name"] == 'Demo "app"\ufffd'
    assert "capgo_exporter_api_requests" in families


@pytest.mark.parametrize("accept", ["text/plain", "application/openmetrics-text"])
def test_gzip_is_one_stream_that_decompresses_to_exactly_the_plain_body(
    client: httpx.Client, accept: str
) -> None:
    plain = client.get("/metrics", headers={"Accept": accept}).content
    response = raw_get(client, "/metrics", accept=accept, **{"accept-encoding": "gzip"})
    packed: bytes = response.raw_bytes  # type: ignore[attr-defined]
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(packed)
    assert gzip.decompress(packed) == plain
    # One stream, so every client decodes all of it (httpx and old curl stop after a member).
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(packed) == plain
    decoded = client.get("/metrics", headers={"Accept": accept, "Accept-Encoding": "gzip"})
    assert decoded.content == plain
    # The snapshot's part is sent as compressed at render time, not compressed again.
    cached = small_snapshot()
    prefix = cached.openmetrics_gzip if "openmetrics" in accept else cached.text_gzip
    assert packed.startswith(prefix.head)


def test_a_scrape_never_renders_the_snapshot_again(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: object) -> None:
        raise AssertionError("the snapshot was rendered during a scrape")

    monkeypatch.setattr(snapshot._SamplesCollector, "collect", fail)
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", headers={"Accept-Encoding": "gzip"}).status_code == 200


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("deflate, GZIP;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("identity", False),
        ("", False),
        (None, False),
        ("x-gzip", False),
    ],
)
def test_gzip_accepted(header: str | None, expected: bool) -> None:
    assert gzip_accepted(header) is expected


def test_query_parameters_are_ignored(client: httpx.Client) -> None:
    plain = client.get("/metrics").content
    assert client.get("/metrics?target=http://169.254.169.254/&format=json").content == plain


def test_head_sends_the_headers_without_a_body(client: httpx.Client) -> None:
    get, head = client.get("/metrics"), client.head("/metrics")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == TEXT


# --- other routes --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head_are_allowed(client: httpx.Client, method: str) -> None:
    for path in ("/", "/metrics", "/healthz", "/readyz"):
        response = client.request(method, path, content=b"x=1")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/nope", "/metrics/", "/index.html", "/%2e%2e/etc/passwd"])
def test_unknown_paths_are_404(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_healthz_follows_status_health(client: httpx.Client, status: StubStatus) -> None:
    assert (client.get("/healthz").status_code, client.get("/healthz").text) == (200, "ok\n")
    status.is_healthy = False
    assert client.get("/healthz").status_code == 503


def test_readyz_names_the_collectors_still_waiting(
    client: httpx.Client, status: StubStatus
) -> None:
    assert client.get("/readyz").status_code == 200
    status.is_ready = False
    status.statuses = [
        CollectorStatus("devices", 300.0),
        CollectorStatus("inventory", 60.0, runs=1, up=True),
        CollectorStatus("statistics", 60.0),
    ]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.text == "not ready: waiting for the first run of devices, statistics\n"


def test_landing_page_lists_links_and_collectors_escaped(
    client: httpx.Client, status: StubStatus
) -> None:
    status.statuses = [
        CollectorStatus(
            "devices",
            300.0,
            runs=3,
            up=False,
            last_success=NOW - 3600,
            last_duration_seconds=12.345,
            last_error="<script>alert(1)</script> & co",
            next_run=NOW + 120,
        )
    ]
    response = client.get("/")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    for link in ('href="metrics"', 'href="healthz"', 'href="readyz"', 'href="docs/metrics.md"'):
        assert link in page
    assert __version__ in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "12.35 s" in page
    assert "<td>5m</td>" in page
    # Ages are counted from the app's clock, pinned here.
    assert "1h ago" in page
    assert "in 2m" in page


def test_landing_page_times_are_iso_with_an_age() -> None:
    statuses = [
        CollectorStatus("statistics", 90.0, runs=1, up=True, last_success=NOW - 75),
        CollectorStatus("devices", 300.0, next_run=NOW + 30),
    ]
    page = render_landing_page(statuses, NOW)
    assert '<time datetime="2025-10-09T08:52:05Z">2025-10-09T08:52:05Z</time> (1m15s ago)' in page
    assert "(in 30s)" in page
    assert "<td>1m30s</td><td>yes</td>" in page
    assert "<td>pending</td><td>never</td>" in page


def test_every_response_carries_the_security_headers(client: httpx.Client) -> None:
    for path, method in (("/", "GET"), ("/metrics", "GET"), ("/nope", "GET"), ("/", "POST")):
        headers = client.request(method, path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "script-src" not in headers["content-security-policy"]


def test_an_error_is_a_500_logged_through_structlog(
    client: httpx.Client, status: StubStatus, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> bool:
        raise RuntimeError("status exploded")

    monkeypatch.setattr(status, "healthy", broken)
    with capture_logs() as logs:
        response = client.get("/healthz")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert [entry["event"] for entry in logs] == ["request failed"]
    assert logs[0]["path"] == "/healthz"


def test_requests_are_not_logged(client: httpx.Client, capfd: pytest.CaptureFixture[str]) -> None:
    client.get("/metrics")
    client.get("/nope")
    assert capfd.readouterr().err == ""


# --- connections ---------------------------------------------------------------------------


def test_connections_are_kept_alive_unless_the_request_had_a_body(client: httpx.Client) -> None:
    url = urlsplit(str(client.base_url))
    connection = http.client.HTTPConnection(url.hostname or "", url.port)
    connection.request("GET", "/healthz")
    connection.getresponse().read()
    first_socket = connection.sock
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    response.read()
    assert connection.sock is first_socket
    assert response.getheader("Connection") is None
    connection.request("POST", "/metrics", body=b"ignored")
    response = connection.getresponse()
    response.read()
    assert response.getheader("Connection") == "close"
    connection.close()


def test_port_zero_gets_a_real_port() -> None:
    server = ExporterServer(
        ExporterApp(SnapshotHolder(), SelfMetrics([], process_metrics=False), StubStatus()),
        "127.0.0.1",
        0,
    )
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/"
    assert server.shutdown(timeout=1)


def test_shutdown_lets_a_slow_request_finish_and_refuses_new_ones() -> None:
    entered, release = threading.Event(), threading.Event()

    class SlowStatus(StubStatus):
        def ready(self) -> bool:
            entered.set()
            release.wait(5)
            return True

    holder = SnapshotHolder()
    app = ExporterApp(holder, SelfMetrics([], process_metrics=False), SlowStatus())
    server = ExporterServer(app, "127.0.0.1", 0)
    server.start()
    idle = http.client.HTTPConnection("127.0.0.1", server.port)
    idle.request("GET", "/healthz")
    idle.getresponse().read()  # a kept-alive connection, idle: it must not hold shutdown up

    responses: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: responses.append(httpx.get(server.url + "readyz")))
    slow.start()
    assert entered.wait(5)
    results: list[bool] = []
    stopping = threading.Thread(target=lambda: results.append(server.shutdown(timeout=5)))
    stopping.start()
    time.sleep(0.3)
    assert stopping.is_alive(), "shutdown returned while a request was in flight"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    release.set()
    stopping.join(5)
    slow.join(5)
    assert results == [True]
    assert responses[0].status_code == 200
    assert responses[0].text == "ready\n"
    idle.close()


def test_every_interface_logs_a_localhost_address_a_terminal_can_open() -> None:
    server = ExporterServer(
        ExporterApp(SnapshotHolder(), SelfMetrics([], process_metrics=False), StubStatus()), "", 0
    )
    assert server.url == f"http://localhost:{server.port}/"
    assert server.shutdown(timeout=1)


class SwapDuringRead(SelfMetrics):
    """Gauges read while the scheduler recovers a collector: between the scrape's read of the
    snapshot and its read of the gauges, the snapshot with the series is swapped in and the
    collector is said up again."""

    def __init__(self, holder: SnapshotHolder, recovered: Snapshot) -> None:
        super().__init__(["devices"], process_metrics=False)
        self.holder, self.recovered, self.reads = holder, recovered, 0
        self.collector_down("devices")
        self.set_up(False)

    def render(self, *, openmetrics: bool = False) -> bytes:
        self.reads += 1
        if self.reads == 1:
            self.holder.current = self.recovered
            self.set_up(True)
        return super().render(openmetrics=openmetrics)


def test_a_scrape_never_pairs_an_old_snapshot_with_health_read_after_a_swap() -> None:
    holder = SnapshotHolder()  # empty: the devices series were dropped for age
    recovered = small_snapshot()
    metrics = SwapDuringRead(holder, recovered)
    app = ExporterApp(holder, metrics, StubStatus(), web_config=None, wall_clock=lambda: NOW)
    server = ExporterServer(app, "127.0.0.1", 0, web_config=None)
    server.start()
    try:
        body = httpx.get(server.url + "metrics").content
    finally:
        server.shutdown(timeout=5)
    assert b"\ncapgo_up 1.0" in body
    assert body.startswith(recovered.text), "up, so the recovered series must be there"
    assert metrics.reads == 2


@pytest.mark.parametrize(
    ("host", "shown"), [("::", "[::]"), ("0.0.0.0", "0.0.0.0"), ("::1", "[::1]")]
)
def test_the_bound_address_is_shown_as_bound(host: str, shown: str) -> None:
    # Every interface is logged as such, not as localhost (the start-up log's `listen`).
    port = free_port()
    assert host_port(host, port) == f"{shown}:{port}"
