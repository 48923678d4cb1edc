"""The daemon's memory while Capgo answers 50 MB bodies on every route, and after.

    python benchmarks/bench_large_answers.py [--megabytes 50] [--seconds 60] [--after 60]

The daemon (collectors, scheduler, client with its defaults, `--capgo.max-response-size`
32 MiB) runs in process against the simulator, every collector polling every 10 s. Once it
is healthy, every answer becomes a 200 whose body is ``--megabytes`` of JSON (a list of long
strings, streamed: the source never holds it) for ``--seconds``; then the simulator answers
again. Printed: RSS before, the peak during (the kernel's high-water mark), and RSS every 10 s
after good answers resumed, with the requests abandoned and the circuit's state.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import structlog
from polling_daemon import polling_daemon

_MIB = 1 << 20


def memory() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) // 1024
    return fields


def reset_peak() -> None:
    """Start the high-water mark again from the current RSS (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


class Huge(httpx.AsyncByteStream):
    def __init__(self, megabytes: int) -> None:
        self._megabytes = megabytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        for n in range(self._megabytes):
            # A new object each time, as a network read gives: the reader holds real memory.
            yield b'"' + str(n).encode() + b"x" * _MIB + b'",'
        yield b'""]'


class Oversized(httpx.AsyncBaseTransport):
    """The simulator, or, while ``on``, a huge 200 on every route."""

    def __init__(self, inner: httpx.AsyncBaseTransport, megabytes: int) -> None:
        self.inner, self.megabytes, self.on, self.served = inner, megabytes, False, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.on:
            return await self.inner.handle_async_request(request)
        self.served += 1
        return httpx.Response(200, stream=Huge(self.megabytes))


async def run(megabytes: int, seconds: float, after: float) -> None:
    oversized: list[Oversized] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        oversized.append(Oversized(inner, megabytes))
        return oversized[0]

    async with polling_daemon("10s", wrap) as (_, built):
        transport = oversized[0]
        while not all(s.up for s in built.scheduler.collector_statuses()):
            await asyncio.sleep(0.2)
        await asyncio.sleep(15)  # settled: a second round of every collector
        before = memory()["VmRSS"]
        reset_peak()
        print(f"healthy; RSS {before} MB; every answer {megabytes} MB from now on")
        transport.on = True
        await asyncio.sleep(seconds)
        transport.on = False
        peak = memory()["VmHWM"]
        print(
            f"during {seconds:g} s: {transport.served} huge answers, peak RSS {peak} MB; "
            f"circuit open: {built.client.http.circuit.is_open}"
        )
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < after:
            await asyncio.sleep(10)
            up = all(s.up for s in built.scheduler.collector_statuses())
            print(f"  {elapsed + 10:3.0f} s after: RSS {memory()['VmRSS']} MB, all up: {up}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--after", type=float, default=60.0)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    print(
        f"command: python benchmarks/bench_large_answers.py --megabytes {args.megabytes} "
        f"--seconds {args.seconds:g} --after {args.after:g}"
    )
    asyncio.run(run(args.megabytes, args.seconds, args.after))


if __name__ == "__main__":
    main()
