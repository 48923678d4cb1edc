"""Scrape latency while Capgo is slow: the daemon on the simulator at 0 ms and 500 ms per request.

    python benchmarks/bench_slow_capgo.py [--seconds 20] [--latency-ms 500]

For each latency, the full daemon (collectors, scheduler, HTTP server) runs against the
in-process simulator with short intervals so it polls throughout; a client thread scrapes
``/metrics`` back to back over one keep-alive connection and records each scrape's latency.
A scrape must never wait for Capgo, so both rows should match. Collector runs happen in the
same process: with 0 ms latency they keep a core busy, which is the worst case for scrapes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time

import httpx

from capgo_exporter.daemon import DEMO_KEY, exporter
from capgo_exporter.logs import configure_logging
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import SimConfig, Simulator


def scrape_loop(url: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(headers={"accept-encoding": "identity"}) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(url).raise_for_status()
            latencies.append(time.perf_counter() - started)


async def measure(latency_ms: float, seconds: float) -> tuple[list[float], int, int]:
    sim = Simulator(SimConfig(seed=1, orgs=2, apps_per_org=3, devices_per_app=5000))
    sim.configure(latency_ms=latency_ms)
    settings = load_settings(
        {
            "api_url": "http://sim",
            "api_key": DEMO_KEY,
            "requests_per_minute": 100_000,
            "inventory_interval": "2s",
            "statistics_interval": "2s",
            "devices_interval": "2s",
            "account_interval": "2s",
        },
        environ={},
    )
    latencies: list[float] = []
    async with exporter(settings, sim.transport()) as built:
        app = ExporterApp(built.holder, built.self_metrics, built.scheduler)
        server = ExporterServer(app, "127.0.0.1", 0)
        server.start()
        stop_polling, stop_scraping = asyncio.Event(), threading.Event()
        poller = asyncio.create_task(built.scheduler.run(stop_polling))
        # Measure once everything is collected, so both latencies serve the same series;
        # polls go on every 2 s during the measurement.
        while not built.scheduler.ready():
            await asyncio.sleep(0.1)
        scraper = threading.Thread(
            target=scrape_loop, args=(f"{server.url}/metrics", stop_scraping, latencies)
        )
        scraper.start()
        await asyncio.sleep(seconds)
        stop_scraping.set()
        await asyncio.to_thread(scraper.join)
        stop_polling.set()
        await poller
        await asyncio.to_thread(server.shutdown)
        runs = sum(s.runs for s in built.scheduler.collector_statuses())
        return latencies, runs, built.holder.current.series


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--latency-ms", type=float, default=500.0)
    args = parser.parse_args()
    configure_logging("error", "console")
    print(f"command: python benchmarks/bench_slow_capgo.py --seconds {args.seconds:g} "
          f"--latency-ms {args.latency_ms:g}")  # fmt: skip
    print(f"{'Capgo latency':>14} {'scrapes':>8} {'collector runs':>15} {'series':>7} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")  # fmt: skip
    for latency in (0.0, args.latency_ms):
        latencies, runs, series = asyncio.run(measure(latency, args.seconds))
        print(
            f"{latency:>12.0f}ms {len(latencies):>8} {runs:>15} {series:>7} "
            f"{statistics.median(latencies) * 1000:>8.2f} "
            f"{percentile(latencies, 0.99) * 1000:>8.2f} {max(latencies) * 1000:>8.2f}"
        )


if __name__ == "__main__":
    main()
