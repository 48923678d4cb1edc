"""Scrape latency of /metrics at a given number of Capgo series, side by side with the usual ways.

    python benchmarks/bench_scrape.py --series 20000 --scrapes 2000 [--slow-clients 1000]

1. capgo-exporter: `ExporterServer` serving a snapshot rendered once, plus the live
   self-metrics, scraped over one kept-alive connection (text format, no gzip).
2. The same series held as client_python gauges and re-rendered on every scrape with
   `generate_latest`: the render alone, and a scrape of `start_http_server` serving them.
3. A Prometheus Pushgateway holding the same series (Debian's `prometheus-pushgateway`),
   when installed.

Targets: p50 ≤ 2 ms and p99 ≤ 5 ms at 20,000 series; ≥ 20x faster than
re-rendering per scrape; ≥ 10x faster than a Pushgateway. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import logging
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from prometheus_client import CollectorRegistry, Gauge, generate_latest, push_to_gateway
from prometheus_client.exposition import start_http_server

from capgo_exporter.catalogue import CATALOGUE
from capgo_exporter.collect.samples import Labels, SampleSet
from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.metrics import MetricSpec
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.snapshot import Part, Snapshot, SnapshotHolder
from capgo_exporter.status import CollectorStatus

# Label values per app, shaped like a real account: three platforms, fifteen live bundles,
# a few native builds and plugin versions, three channels.
_VARYING = {
    "platform": ("ios", "android", "electron"),
    "bundle": tuple(f"1.{minor}.0" for minor in range(15)),
    "is_prod": ("true", "false"),
    "native_version": tuple(f"2.{minor}.0" for minor in range(5)),
    "plugin_version": tuple(f"6.{minor}.1" for minor in range(4)),
    "channel": ("production", "beta", "development"),
    "role": ("admin", "write", "read"),
}


def _label_values(spec: MetricSpec, label: str, index: int) -> tuple[str, ...]:
    if label in ("app_id", "org_id"):
        return (f"{label[:-3]}-{index:05d}",)
    # A channel runs one bundle: channel_info does not multiply by every bundle.
    if label in _VARYING and not (label == "bundle" and "channel" in spec.labels):
        return _VARYING[label]
    return (f"{label}-{index % 7}",) if label.endswith("name") else ("true",)


def _series(spec: MetricSpec, index: int) -> Iterator[Labels]:
    return itertools.product(*(_label_values(spec, label, index) for label in spec.labels))


def build_snapshot(series: int) -> Snapshot:
    """Exactly ``series`` Capgo series: org-level ones for one org per 20 apps, app-level ones."""
    sets: dict[str, SampleSet] = {name: SampleSet() for name in COLLECTORS}
    specs = [spec for spec in CATALOGUE if spec.collector is not None]
    count = 0
    for app in itertools.count():
        for spec in specs:
            per_org = "app_id" not in spec.labels
            if per_org and app % 20:
                continue
            for labels in _series(spec, app // 20 if per_org else app):
                if count == series:
                    return Snapshot.render(
                        {name: Part(s.freeze(), time.time()) for name, s in sets.items()}
                    )
                sets[str(spec.collector)].set(spec, float(count % 1000), *labels)
                count += 1
    raise AssertionError("unreachable")


class _Status:
    def collector_statuses(self) -> list[CollectorStatus]:
        return [CollectorStatus(name, 60.0, runs=1, up=True) for name in COLLECTORS]

    def healthy(self) -> bool:
        return True

    def ready(self) -> bool:
        return True


# What Prometheus sends by default (scrape_protocols, gzip on).
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4",
    "Accept-Encoding": "gzip",
}


def scrape_times(
    port: int,
    path: str,
    scrapes: int,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> list[float]:
    """Seconds per scrape, on one connection (reopened only if the server closes it); a
    connection passed in is left open for the caller."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(scrapes + 5):  # the first few warm up connection and caches
        start = time.perf_counter()
        connection.request("GET", path, headers=headers or {"Accept": "text/plain"})
        response = connection.getresponse()
        body = response.read()
        times.append(time.perf_counter() - start)
        if response.status != 200 or not body:
            raise RuntimeError(f"{path}: HTTP {response.status} {body[:200]!r}")
    if own:
        connection.close()
    return times[5:]


def report(name: str, times: list[float]) -> float:
    ms = sorted(t * 1000 for t in times)
    p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"  {name:<52} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   max {ms[-1]:8.3f} ms")
    return p50


def time_calls(call: Callable[[], object], count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def gauge_registry(snapshot: Snapshot) -> CollectorRegistry:
    registry = CollectorRegistry()
    for part in snapshot.parts.values():
        for spec, values in part.samples.items():
            gauge = Gauge(spec.name, spec.help, spec.labels, registry=registry)
            for labels, value in values.items():
                (gauge.labels(*labels) if labels else gauge).set(value)
    return registry


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def pushgateway(binary: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def scrape_with_slow_clients(server: ExporterServer, count: int, scrapes: int) -> None:
    """Prometheus's kept-alive connection scraping while ``count`` clients hold sockets open
    mid-request (a request line, no headers): the connection cap closes the excess at once,
    the header deadline the rest after a few seconds."""
    prometheus = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    scrape_times(server.port, "/metrics", 1, connection=prometheus)  # connected first, as it is
    kept_alive = prometheus.sock
    slow = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        slow.append(sock)
    try:
        times = scrape_times(server.port, "/metrics", scrapes, connection=prometheus)
        report(f"GET /metrics with {count} slow clients open", times)
        kept = "the same connection" if prometheus.sock is kept_alive else "a NEW connection"
        print(f"  Prometheus's scrapes all went over {kept}")
        closed = 0
        for sock in slow:
            sock.settimeout(0.001)
            try:
                closed += sock.recv(1) == b""
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass
        print(
            f"  {closed} of the {count} slow clients closed by the server while scraping, "
            f"{server.refused_connections} of them at the accept (connection cap)"
        )
    finally:
        for sock in slow:
            sock.close()
        prometheus.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--scrapes", type=int, default=2000, help="scrapes of capgo-exporter")
    parser.add_argument(
        "--slow-clients",
        type=int,
        default=1000,
        help="sockets left open mid-request while Prometheus scrapes (0: skip that part)",
    )
    parser.add_argument(
        "--slow-scrapes", type=int, default=50, help="scrapes of each slower alternative"
    )
    args = parser.parse_args()
    print("command:", " ".join([sys.executable, *sys.argv]))
    # The server logs each slow client it cuts off at debug level: 1,000 lines here.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))

    snapshot = build_snapshot(args.series)
    print(f"{snapshot.series} Capgo series, {len(snapshot.text) / 1e6:.2f} MB of text format")

    self_metrics = SelfMetrics(COLLECTORS)
    holder = SnapshotHolder()
    holder.current = snapshot
    server = ExporterServer(ExporterApp(holder, self_metrics, _Status()), "127.0.0.1", 0)
    server.start()
    try:
        print(f"capgo-exporter ({args.scrapes} scrapes, keep-alive):")
        ours = report("GET /metrics", scrape_times(server.port, "/metrics", args.scrapes))
        report(
            "  of which the live self-metrics render",
            time_calls(self_metrics.render, args.scrapes),
        )
        report(
            "GET /metrics as Prometheus asks (OpenMetrics, gzip)",
            scrape_times(server.port, "/metrics", args.scrapes, PROMETHEUS_HEADERS),
        )
        if args.slow_clients:
            scrape_with_slow_clients(server, args.slow_clients, args.scrapes)
    finally:
        server.shutdown()

    registry = gauge_registry(snapshot)
    print(f"re-rendering per scrape with generate_latest ({args.slow_scrapes} scrapes):")
    render = report("generate_latest alone", time_calls(lambda: generate_latest(registry), 10))
    httpd, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        rerender = report(
            "GET /metrics from start_http_server",
            scrape_times(httpd.server_address[1], "/metrics", args.slow_scrapes),
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()

    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    gateway = None
    if binary is None:
        print(
            "Pushgateway: skipped (not installed; `apt-get install -y prometheus-pushgateway` "
            "on Debian or Ubuntu, or put `pushgateway` on PATH)"
        )
    else:
        with pushgateway(binary) as port:
            push_to_gateway(f"127.0.0.1:{port}", job="bench", registry=registry)
            print(f"Pushgateway {binary} ({args.slow_scrapes} scrapes):")
            gateway = report("GET /metrics", scrape_times(port, "/metrics", args.slow_scrapes))

    print("ratios of p50 (target: ≥ 20x re-rendering, ≥ 10x Pushgateway):")
    print(f"  generate_latest alone / capgo-exporter scrape   {render / ours:8.1f}x")
    print(f"  start_http_server scrape / capgo-exporter scrape {rerender / ours:7.1f}x")
    if gateway is not None:
        print(f"  Pushgateway scrape / capgo-exporter scrape       {gateway / ours:7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
