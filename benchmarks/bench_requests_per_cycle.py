"""Requests one poll of each collector costs, counted by the simulator, for several account
shapes: the figures behind docs/scaling.md's request formulas.

    python benchmarks/bench_requests_per_cycle.py

Each shape is a fresh simulator (in process) and a fresh exporter: the first devices run is
the first (full) walk; then one incremental run with nothing changed. Requests are counted per
route by the simulator, so nothing the exporter does is left out.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import structlog

from capgo_exporter.collect.base import Collector
from capgo_exporter.collect.devices.collector import DevicesCollector
from capgo_exporter.daemon import Exporter, exporter
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import SimConfig, Simulator

# 2,000 devices an app, not 1,000: an app of exactly 1,000 devices looks like a page Capgo cut
# short, which costs two confirming requests (docs/scaling.md).
SHAPES = ((1, 1, 2_000), (1, 5, 2_000), (2, 5, 2_000), (4, 5, 2_000), (1, 2, 120_000))


async def requests_of(sim: Simulator, built: Exporter, collector: Collector) -> int:
    sim.reset_request_counts()
    await built.scheduler.run_collector(collector)
    return sum(sim.request_counts().values())


async def cycle(orgs: int, apps: int, devices: int) -> dict[str, int]:
    """Requests of one run of every collector (the registry's), by column name."""
    sim = Simulator(SimConfig(orgs=orgs, apps_per_org=apps, devices_per_app=devices))
    settings = load_settings(
        {"api_url": "http://sim", "api_key": "demo", "requests_per_minute": 100_000},
        environ={},
        home=None,
    )
    counts: dict[str, int] = {}
    async with exporter(settings, sim.transport()) as built:
        # The registry's order (the discovering collector first), device walks last: their
        # second, incremental run follows the first.
        walks = [c for c in built.collectors if isinstance(c, DevicesCollector)]
        others = [c for c in built.collectors if c not in walks]
        for collector in (*others, *walks):
            counts[collector.name] = await requests_of(sim, built, collector)
        for collector in walks:
            counts[f"{collector.name}, incremental"] = await requests_of(sim, built, collector)
    return counts


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print("reproduce: python benchmarks/bench_requests_per_cycle.py")
    for number, (orgs, apps, devices) in enumerate(SHAPES):
        counts = asyncio.run(cycle(orgs, apps, devices))
        if number == 0:
            print("\n| orgs | apps | devices/app | " + " | ".join(counts) + " |")
            print("|" + "---|" * (3 + len(counts)))
        cells = " | ".join(str(n) for n in counts.values())
        print(f"| {orgs} | {orgs * apps} | {devices:,} | {cells} |", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
