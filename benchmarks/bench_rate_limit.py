"""The daemon against a Capgo that allows 20 requests a minute: no request inside a pause.

    python benchmarks/bench_rate_limit.py [--minutes 10] [--limit 20] [--interval 10s]

The daemon's collectors, scheduler and request budget run in process against the simulator
(in-process transport: requests reach it in the order the daemon sends them, with no network
in between to blur which came first). The exporter's own budget is left at its default of
100 requests a minute, five times what this Capgo allows, and every collector polls every
``--interval``: Capgo's 429s, and the exporter honouring their ``Retry-After``, are all that
keep it within the limit.

The simulator records when each request arrived and the pause each 429 announced (from the
moment the answer left to the end of its ``Retry-After``). Printed: requests sent, 429s
received, requests that arrived inside an announced pause (must be 0), and after each 429 the
gap to the next request against the ``Retry-After`` it announced.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

import structlog
from polling_daemon import polling_daemon

from capgo_exporter.sim import Simulator
from capgo_exporter.sim.arrivals import Arrival


def gaps_after_429s(arrivals: list[Arrival]) -> list[tuple[float, float]]:
    """(seconds from each 429's answer to the next request, the Retry-After it announced)."""
    out: list[tuple[float, float]] = []
    for i, arrival in enumerate(arrivals):
        if arrival.status != 429 or arrival.retry_after is None:
            continue
        later = [a.at for a in arrivals[i + 1 :] if a.at >= arrival.answered_at]
        if later:
            out.append((later[0] - arrival.answered_at, arrival.retry_after))
    return out


async def run(minutes: float, limit: int, interval: str) -> tuple[Simulator, dict[str, int]]:
    async with polling_daemon(interval) as (sim, built):
        sim.configure(rate_limit_per_min=limit)
        deadline = time.monotonic() + minutes * 60
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(30.0, left))
            print(f"  {len(sim.arrivals.arrivals())} requests so far", file=sys.stderr)
    runs = {s.name: s.runs for s in built.scheduler.collector_statuses()}
    return sim, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--limit", type=int, default=20, help="Capgo's requests per minute")
    parser.add_argument("--interval", default="10s", help="every collector's poll interval")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    print(
        f"command: python benchmarks/bench_rate_limit.py --minutes {args.minutes:g} "
        f"--limit {args.limit} --interval {args.interval}"
    )
    started = time.monotonic()
    sim, runs = asyncio.run(run(args.minutes, args.limit, args.interval))
    elapsed = time.monotonic() - started
    arrivals = sim.arrivals.arrivals()
    limited = [a for a in arrivals if a.status == 429]
    inside = sim.arrivals.inside_pauses()
    gaps = gaps_after_429s(arrivals)
    answered = sum(1 for a in arrivals if a.status == 200)
    print(f"wall time: {elapsed:.0f} s; Capgo limit {args.limit}/min, exporter budget 100/min")
    print(f"collector runs: {', '.join(f'{k} {v}' for k, v in runs.items())}")
    print(f"requests sent: {len(arrivals)} ({len(arrivals) / elapsed * 60:.1f}/min)")
    print(f"answered 200: {answered}")
    print(f"429s received: {len(limited)}")
    print(f"requests sent inside a Retry-After pause: {len(inside)}")
    if gaps:
        slack = min(gap - retry for gap, retry in gaps)
        print(
            f"after a 429: min gap to the next request {min(g for g, _ in gaps):.2f} s, "
            f"Retry-After {min(r for _, r in gaps):g}-{max(r for _, r in gaps):g} s, "
            f"min (gap - Retry-After) {slack:.3f} s"
        )
    sys.exit(1 if inside else 0)


if __name__ == "__main__":
    main()
