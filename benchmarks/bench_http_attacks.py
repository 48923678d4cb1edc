"""Fresh scrapes of /metrics while hostile clients hold the exporter's sockets, on loopback.

    python benchmarks/bench_http_attacks.py [--seconds 60] [--series 20000]
        [--attack slowloris --attack silent --attack passwords]

Three attacks, one at a time, each for ``--seconds`` (at most 60), against `ExporterServer`
with its defaults (a 5 s header deadline, the connection cap unless ``--max-connections``)
serving ``--series`` Capgo series:

- ``slowloris``: 300 clients that send a request line, then one header line a second, never
  the end of the headers; each re-connects as soon as its connection is closed;
- ``silent``: 70 connections that send nothing, each re-opened as soon as it is closed;
- ``passwords``: basic auth with a bcrypt cost-12 hash; 64 clients send wrong passwords as
  fast as they are answered (re-connecting when closed). The scraper's password was verified
  once before the attack, as a Prometheus already scraping would have.

The server and the attackers run in processes of their own (the server's threads then do not
share an interpreter lock with the attackers'). Meanwhile a scraper opens a new connection for
each scrape, every 0.25 s, with a 10 s timeout. Printed per attack: scrapes answered and lost,
their latency (p50, p90, max), connections the attackers opened, and what the server did with
its slots (evicted: closed to make room; refused: closed at the accept because every slot was
serving).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import logging
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import bcrypt
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scrape import _Status, build_snapshot

from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.snapshot import SnapshotHolder
from capgo_exporter.webconfig import load_web_config
from capgo_exporter.wsgiserver import DEFAULT_MAX_CONNECTIONS

ATTACKS = ("slowloris", "silent", "passwords")
USER, PASSWORD = "prometheus", "scrape-me"
SCRAPE_EVERY = 0.25


def serve(series: int, with_auth: bool, cap: int, pipe: Connection) -> None:
    """The server process: serves until the pipe says stop, then sends its slot counts."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    web_config = None
    if with_auth:
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=12)).decode()
        path = Path(tempfile.mkdtemp()) / "web.yml"
        path.write_text(f"basic_auth_users:\n  {USER}: '{hashed}'\n")
        web_config = load_web_config(path)
    holder = SnapshotHolder()
    holder.current = build_snapshot(series)
    app = ExporterApp(
        holder, SelfMetrics([], process_metrics=False), _Status(), web_config=web_config
    )
    server = ExporterServer(app, "127.0.0.1", 0, web_config=web_config, max_connections=cap)
    server.start()
    pipe.send(server.port)
    pipe.recv()
    pipe.send((server.evicted_connections, server.refused_connections))
    server.shutdown(timeout=2)


async def _slowloris(port: int, stop: float, opened: list[int]) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            opened[0] += 1
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            n = 0
            while time.monotonic() < stop and not reader.at_eof():
                writer.write(f"X-Slow-{n}: 1\r\n".encode())
                await writer.drain()
                n += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(1024), 1.0)
            writer.close()
        await asyncio.sleep(0.01)


async def _silent(port: int, stop: float, opened: list[int]) -> None:
    while time.monotonic() < stop:
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            opened[0] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(1024), max(0.01, stop - time.monotonic()))
            writer.close()
        await asyncio.sleep(0.01)


async def _wrong_passwords(port: int, stop: float, opened: list[int]) -> None:
    wrong = base64.b64encode(f"{USER}:wrong".encode()).decode()
    request = f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {wrong}\r\n\r\n"
    while time.monotonic() < stop:
        with contextlib.suppress(OSError, EOFError, TimeoutError, IndexError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            opened[0] += 1
            while time.monotonic() < stop:
                writer.write(request.encode())
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            writer.close()
        await asyncio.sleep(0.01)


def attack(kind: str, port: int, seconds: float, pipe: Connection) -> None:
    """The attackers' process: runs until ``seconds`` have passed, sends connections opened."""
    clients = {"slowloris": (_slowloris, 300), "silent": (_silent, 70)}
    run, count = clients.get(kind, (_wrong_passwords, 64))
    opened = [0]

    async def main() -> None:
        stop = time.monotonic() + seconds
        await asyncio.gather(*(run(port, stop, opened) for _ in range(count)))

    asyncio.run(main())
    pipe.send(opened[0])


def scrape(port: int, auth: str | None) -> float | None:
    """One scrape on a new connection: seconds it took, None when it failed."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Basic {auth}"} if auth else {}
        connection.request("GET", "/metrics", headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or not body:
            return None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    return time.perf_counter() - started


def run_attack(kind: str, seconds: float, series: int, cap: int) -> None:
    server_end, here = multiprocessing.Pipe()
    server = multiprocessing.Process(
        target=serve, args=(series, kind == "passwords", cap, server_end)
    )
    server.start()
    port = here.recv()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if kind == "passwords":
        assert scrape(port, auth) is not None  # verified once: remembered
    attack_end, attacker_pipe = multiprocessing.Pipe()
    attacker = multiprocessing.Process(target=attack, args=(kind, port, seconds, attack_end))
    attacker.start()
    time.sleep(min(5.0, seconds / 4))  # the attack under way
    latencies: list[float] = []
    lost = 0
    deadline = time.monotonic() + seconds - min(5.0, seconds / 4) - 1
    while time.monotonic() < deadline:
        took = scrape(port, auth if kind == "passwords" else None)
        if took is None:
            lost += 1
        else:
            latencies.append(took)
        time.sleep(SCRAPE_EVERY)
    opened = attacker_pipe.recv()
    attacker.join()
    here.send("stop")
    evicted, refused = here.recv()
    server.join()
    report(kind, latencies, lost, opened, evicted, refused)


def report(
    kind: str, latencies: list[float], lost: int, opened: int, evicted: int, refused: int
) -> None:
    ms = sorted(1000 * t for t in latencies)
    figures = "no scrape answered"
    if ms:
        p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
        figures = f"p50 {statistics.median(ms):.1f} ms, p90 {p90:.1f} ms, max {ms[-1]:.1f} ms"
    print(
        f"{kind}: {len(ms)} of {len(ms) + lost} fresh scrapes answered ({figures}); "
        f"attackers opened {opened} connections; server evicted {evicted}, refused {refused}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--attack", action="append", choices=ATTACKS)
    parser.add_argument(
        "--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS, help="the server's cap"
    )
    args = parser.parse_args()
    seconds = min(60.0, args.seconds)  # bounded, whatever is asked
    kinds = args.attack or list(ATTACKS)
    print(
        f"command: python benchmarks/bench_http_attacks.py --seconds {seconds:g} "
        f"--series {args.series} --max-connections {args.max_connections} "
        + " ".join(f"--attack {k}" for k in kinds)
    )
    print(f"{socket.gethostname()}: one attack at a time, {seconds:g} s each, loopback only")
    for kind in kinds:
        run_attack(kind, seconds, args.series, args.max_connections)


if __name__ == "__main__":
    main()
