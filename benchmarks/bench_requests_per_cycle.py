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
from collections import Counter
from typing import Any

import structlog

from capgo_exporter.daemon import exporter
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import SimConfig, Simulator

# 2,000 devices an app, not 1,000: an app of exactly 1,000 devices looks like a page Capgo cut
# short, which costs two confirming requests (docs/scaling.md).
SHAPES = ((1, 1, 2_000), (1, 5, 2_000), (2, 5, 2_000), (4, 5, 2_000), (1, 2, 120_000))
ORDER = ("inventory", "statistics", "account", "events", "devices")


async def cycle(orgs: int, apps: int, devices: int) -> dict[str, Any]:
    sim = Simulator(SimConfig(orgs=orgs, apps_per_org=apps, devices_per_app=devices))
    settings = load_settings(
        {"api_url": "http://sim", "api_key": "demo", "requests_per_minute": 100_000},
        environ={},
        home=None,
    )
    counts: dict[str, int] = {}
    async with exporter(settings, sim.transport()) as built:
        by_name: dict[str, Any] = {c.name: c for c in built.collectors}
        for name in ORDER:
            sim.reset_request_counts()
            await built.scheduler.run_collector(by_name[name])
            counts[name] = sum(sim.request_counts().values())
        sim.reset_request_counts()
        await built.scheduler.run_collector(by_name["devices"])
        counts["devices, incremental"] = sum(sim.request_counts().values())
    return counts


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print("reproduce: python benchmarks/bench_requests_per_cycle.py")
    names = (*ORDER[:4], "devices", "devices, incremental")
    print("\n| orgs | apps | devices/app | " + " | ".join(names) + " |")
    print("|" + "---|" * (3 + len(names)))
    for orgs, apps, devices in SHAPES:
        counts: Counter[str] = Counter(asyncio.run(cycle(orgs, apps, devices)))
        cells = " | ".join(str(counts[name]) for name in names)
        print(f"| {orgs} | {orgs * apps} | {devices:,} | {cells} |", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
