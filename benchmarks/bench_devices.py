"""Device ingestion: a full walk of N devices through the devices collector, then an
incremental run after some devices changed.

    python benchmarks/bench_devices.py --devices 1000000            # in-process simulator
    python benchmarks/bench_devices.py --devices 1000000 --tcp      # simulator in a child

What is measured: the whole `DevicesCollector.collect` (HTTP client, JSON decoding, index
upserts, aggregation), as process CPU time (getrusage, every thread) and peak RSS.

- In process (default): the simulator answers in the exporter's own thread, so its CPU
  (generating and encoding each page) is measured apart, with the thread CPU clock around
  every `Simulator.handle` call, and subtracted. Its work still shares the CPU caches, so the
  exporter's share comes out somewhat higher than it is alone.
- --tcp: the simulator runs in a child process (`python -m capgo_exporter.sim`) and answers
  over loopback TCP; every CPU second of this process is the exporter's, real sockets and
  HTTP parsing included. Its RSS holds nothing of the simulator.

The index is a SQLite file in a fresh temporary state directory (what a daemon with a state
directory uses), or in memory with --in-memory.

Targets (the project's performance targets, checked here rather than by timed tests): ≤ 3 µs
of exporter CPU per device ingested; ≤ 200 MB peak RSS walking 1,000,000 devices in pages of
50,000, ≤ 150 MB at rest. `--decoder stdlib` runs the walk as it was before msgspec (for the
before/after); `--cap 1000` a Capgo that cuts pages at 1,000.
`benchmarks/bench_device_walk.py` runs this in a fresh process per cell and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.api.device_rows import DeviceRow, row_from_mapping
from capgo_exporter.collect.base import CollectContext, Discovery
from capgo_exporter.collect.devices.collector import DevicesCollector, Walk
from capgo_exporter.collect.devices.index import FILE_NAME, DeviceIndex
from capgo_exporter.settings import Settings, load_settings
from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.sim.protocol import SimRequest, SimResponse
from capgo_exporter.sim.transport import AsyncSimTransport

KEY = "bench"
ROUTE = "GET /device"


class Sim(Protocol):
    base_url: str
    transport: httpx.AsyncBaseTransport | None

    def cpu_seconds(self) -> float: ...
    def device_requests(self) -> int: ...
    def reset_requests(self) -> None: ...
    def touch(self, app_id: str, n: int) -> None: ...


class MeteredSimulator(Simulator):
    """The simulator, keeping count of the CPU it spends answering."""

    spent = 0.0

    def handle(self, request: SimRequest) -> SimResponse:
        started = time.thread_time()
        try:
            return super().handle(request)
        finally:
            self.spent += time.thread_time() - started


class MeteredIndex(DeviceIndex):
    """The index, keeping count of the CPU its upserts take (in the collector's threads)."""

    spent = 0.0

    def upsert_devices(self, app_id: str, rows: Sequence[DeviceRow]) -> None:
        started = time.thread_time()
        try:
            super().upsert_devices(app_id, rows)
        finally:
            self.spent += time.thread_time() - started


class InProcess:
    base_url = "http://sim"

    def __init__(self, devices: int, cap: int) -> None:
        config = SimConfig(
            seed=1,
            orgs=1,
            apps_per_org=1,
            devices_per_app=devices,
            keys={KEY: "org_admin"},
            device_row_cap=cap,
        )
        self.sim = MeteredSimulator(config)
        self.transport: httpx.AsyncBaseTransport | None = AsyncSimTransport(self.sim.handle)

    def cpu_seconds(self) -> float:
        return self.sim.spent

    def device_requests(self) -> int:
        return self.sim.request_counts().get(ROUTE, 0)

    def reset_requests(self) -> None:
        self.sim.reset_request_counts()

    def touch(self, app_id: str, n: int) -> None:
        self.sim.touch_devices(app_id, n)


class OverTcp:
    transport: httpx.AsyncBaseTransport | None = None

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._admin = httpx.Client(base_url=base_url)

    def cpu_seconds(self) -> float:
        return 0.0  # another process

    def device_requests(self) -> int:
        return int(self._admin.get("/_sim/requests").json().get(ROUTE, 0))

    def reset_requests(self) -> None:
        self._admin.post("/_sim/requests/reset").raise_for_status()

    def touch(self, app_id: str, n: int) -> None:
        self._admin.post("/_sim/touch", json={"app_id": app_id, "n": n}).raise_for_status()


@contextmanager
def child_simulator(devices: int, cap: int, compress: bool) -> Iterator[OverTcp]:
    command = [sys.executable, "-m", "capgo_exporter.sim", "--port", "0", "--key", KEY]
    command += ["--orgs", "1", "--apps-per-org", "1", "--devices-per-app", str(devices)]
    command += ["--device-row-cap", str(cap), *(["--gzip"] if compress else [])]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stderr is not None
        for line in child.stderr:
            if found := re.search(r"listening on (http://\S+)", line):
                # Keep its stderr flowing: a full pipe would stall the child.
                threading.Thread(target=child.stderr.read, daemon=True).start()
                yield OverTcp(found.group(1))
                return
        raise RuntimeError("the simulator exited before listening")
    finally:
        child.terminate()
        child.wait(timeout=10)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def discover(client: CapgoClient) -> Discovery:
    apps = tuple([app async for app in client.apps.list()])
    channels = {
        app.app_id: tuple([c async for c in client.channels.list(app.app_id)]) for app in apps
    }
    return Discovery(apps=apps, channels=channels)


async def measure(
    sim: Sim,
    index: MeteredIndex,
    collector: DevicesCollector,
    context: CollectContext,
    label: str,
    devices: int,
    quiet: bool,
) -> dict[str, float]:
    sim.reset_requests()
    index_before = index.spent
    sim_before, cpu_before, wall_before = sim.cpu_seconds(), cpu(), time.perf_counter()
    await collector.collect(context)
    wall = time.perf_counter() - wall_before
    process = cpu() - cpu_before
    simulator = sim.cpu_seconds() - sim_before
    exporter = process - simulator
    figures = {
        "requests": sim.device_requests(),
        "wall_s": wall,
        "cpu_s": exporter,
        "cpu_us_per_device": exporter / devices * 1e6 if devices else 0.0,
        "peak_rss_mb": peak_rss_mb(),
    }
    if quiet:
        return figures
    print(f"\n{label}")
    print(f"  GET /device requests   {sim.device_requests()}")
    print(f"  wall time              {wall:.2f} s")
    print(f"  process CPU            {process:.2f} s")
    if simulator:
        print(f"  simulator CPU          {simulator:.2f} s (thread CPU in Simulator.handle)")
    per_device = f" = {exporter / devices * 1e6:.2f} µs per device ingested" if devices else ""
    print(f"  exporter CPU           {exporter:.2f} s{per_device}")
    if devices:
        upserts = (index.spent - index_before) / devices * 1e6
        print(f"    index upserts        {upserts:.2f} µs per device (thread CPU in upsert_rows)")
        print("    the rest             HTTP client, JSON decoding, row checks, aggregation")
    return figures


def rss_mb() -> float:
    """Current (not peak) resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class StdlibJsonCollector(DevicesCollector):
    """The walk as it was before msgspec: every page decoded by the standard library's JSON
    decoder into dicts, then indexed from them (for the before/after figures)."""

    async def _sync(self, context: CollectContext, app_id: str) -> Walk:
        devices = context.client.devices
        original = devices.rows

        async def rows(app: str, **kwargs: Any) -> Any:
            async for page in devices.raw_pages(app, **kwargs):
                yield [row for row in map(row_from_mapping, page) if row is not None]

        devices.rows = rows  # type: ignore[method-assign,assignment]
        try:
            return await super()._sync(context, app_id)
        finally:
            devices.rows = original  # type: ignore[method-assign]


async def bench(args: argparse.Namespace, sim: Sim, state_dir: Path | None) -> dict[str, Any]:
    overrides: dict[str, object] = {"device_page_size": args.page_size, "state_dir": state_dir}
    settings: Settings = load_settings(overrides, environ={}, home=None)
    index = MeteredIndex(state_dir / FILE_NAME if state_dir else None)
    kind = StdlibJsonCollector if args.decoder == "stdlib" else DevicesCollector
    collector = kind(settings, index)
    options = ClientOptions(
        api_key=SecretStr(KEY),
        base_url=sim.base_url,
        requests_per_minute=1_000_000,
        request_timeout=600,
    )
    client = CapgoClient.create(options, transport=sim.transport)
    quiet = args.json
    say = (lambda _: None) if quiet else print
    try:
        discovery = await discover(client)
        (app_id,) = (app.app_id for app in discovery.apps)
        context = CollectContext(client=client, settings=settings, discovery=discovery)
        say(f"peak RSS before          {peak_rss_mb():.1f} MB (interpreter, libraries)")

        label = f"full walk of {args.devices:,} devices"
        first = await measure(sim, index, collector, context, label, args.devices, quiet)
        size = collector.page_size.current
        say(f"  page size after        {size}")
        say(f"  peak RSS               {peak_rss_mb():.1f} MB")
        where = "in memory" if state_dir is None else "file"
        say(f"  index size             {index.size_bytes() / 1e6:.1f} MB ({where})")
        started = time.process_time()
        index.summarize(app_id, datetime.now(UTC))
        say(f"  aggregation (again)    {time.process_time() - started:.2f} s CPU")
        gc.collect()
        at_rest = rss_mb()
        say(f"  RSS at rest            {at_rest:.1f} MB")

        sim.touch(app_id, args.touch)
        label = f"incremental run, {args.touch:,} touched"
        poll = await measure(sim, index, collector, context, label, 0, quiet)
        say(f"  expected requests      {max(1, math.ceil(args.touch / size))}")
        say(f"  peak RSS               {peak_rss_mb():.1f} MB")
        return {"first": first, "poll": poll, "rest_rss_mb": at_rest, "page_size": size}
    finally:
        await client.aclose()
        collector.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=None, help="default: adaptive")
    parser.add_argument(
        "--cap",
        type=int,
        default=50_001,
        help="rows the simulator fetches at most: 50001 (production), 1000 (Supabase path)",
    )
    parser.add_argument(
        "--decoder",
        choices=("msgspec", "stdlib"),
        default="msgspec",
        help="stdlib: the walk before msgspec, for comparison",
    )
    parser.add_argument("--json", action="store_true", help="print only the figures, as JSON")
    parser.add_argument("--touch", type=int, default=2000, help="devices changed before run 2")
    parser.add_argument("--in-memory", action="store_true", help="no state directory")
    parser.add_argument("--tcp", action="store_true", help="simulator in a child process")
    parser.add_argument(
        "--gzip", action="store_true", help="with --tcp: gzip-compressed bodies, as Capgo's CDN"
    )
    args = parser.parse_args()
    if args.json:
        with tempfile.TemporaryDirectory(prefix="bench-devices-") as directory:
            state_dir = None if args.in_memory else Path(directory)
            with child_simulator(args.devices, args.cap, args.gzip) as remote:
                print(json.dumps(asyncio.run(bench(args, remote, state_dir))))
        return
    print("reproduce: " + " ".join(["python", "benchmarks/bench_devices.py", *sys.argv[1:]]))
    print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}")
    method = "simulator in a child process, over TCP" if args.tcp else "in-process simulator"
    print(f"method: {method}; see the module docstring")
    with tempfile.TemporaryDirectory(prefix="bench-devices-") as directory:
        state_dir = None if args.in_memory else Path(directory)
        if args.tcp:
            with child_simulator(args.devices, args.cap, args.gzip) as remote:
                asyncio.run(bench(args, remote, state_dir))
        else:
            asyncio.run(bench(args, InProcess(args.devices, args.cap), state_dir))


if __name__ == "__main__":
    main()
