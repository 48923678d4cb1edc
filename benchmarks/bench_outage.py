"""The daemon against a Capgo that answers 5xx to everything: requests per minute, then recovery.

    python benchmarks/bench_outage.py [--minutes 10] [--interval 10s]

The daemon polls the simulator in this process (polling_daemon.py), every collector every
``--interval``. Once healthy,
Capgo fails every request (500, 502 or 503) for ``--minutes``, then answers again.

Printed: the requests Capgo received in each minute of the outage (before the circuit, 97-98 a
minute: the budget, not Capgo's state, set the pace), the seconds from Capgo's return to the
first request it answered and to ``capgo_up`` 1, and the circuit's state.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable

import structlog
from polling_daemon import polling_daemon

from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.sim.arrivals import Arrival


def gauge(metrics: SelfMetrics, name: str) -> float | None:
    for line in metrics.render().decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


async def until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition()`` is true (a float past ``timeout`` when never)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            break
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def run(minutes: float, interval: str) -> None:
    async with polling_daemon(interval) as (sim, built):
        metrics = built.self_metrics
        healthy = await until(lambda: gauge(metrics, "capgo_up") == 1, 120)
        print(f"healthy after {healthy:.1f} s; Capgo fails every request from now on")
        sim.configure(fail_rate=1.0)
        outage_start = time.monotonic()
        first = len(sim.arrivals.arrivals())
        await asyncio.sleep(minutes * 60)
        during: list[Arrival] = sim.arrivals.arrivals()[first:]
        print(f"circuit open at the end: {gauge(metrics, 'capgo_exporter_api_circuit_open')}")
        sim.configure(fail_rate=0.0)
        back = len(sim.arrivals.arrivals())
        answered = await until(
            lambda: any(a.status == 200 for a in sim.arrivals.arrivals()[back:]), 600
        )
        up = await until(lambda: gauge(metrics, "capgo_up") == 1, 600)
    report(during, outage_start, minutes, answered, answered + up)


def report(during: list[Arrival], start: float, minutes: float, answered: float, up: float) -> None:
    per_minute = [0] * int(minutes)
    for arrival in during:
        per_minute[min(len(per_minute) - 1, int((arrival.at - start) // 60))] += 1
    print("requests per minute of the outage: " + ", ".join(map(str, per_minute)))
    print(f"after the first two minutes: at most {max(per_minute[2:], default=0)} a minute")
    print(f"Capgo back: first request answered after {answered:.1f} s, capgo_up 1 after {up:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--interval", default="10s", help="every collector's poll interval")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    print(
        f"command: python benchmarks/bench_outage.py --minutes {args.minutes} "
        f"--interval {args.interval}"
    )
    asyncio.run(run(args.minutes, args.interval))


if __name__ == "__main__":
    main()
