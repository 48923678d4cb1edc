"""Maintained Python HTTP servers against the limits capgo-exporter's own server enforces.

    pip install cheroot waitress uvicorn hypercorn   # evaluation only: not dependencies
    python benchmarks/compare_http_servers.py [--slow-clients 1000] [--scrapes 300]

Each server runs in its own process and serves the exporter's WSGI app (a 20,000-series
snapshot), configured as close to ours as its public options allow: 10 s idle/read timeout
(ours: a 5 s header deadline, 120 s idle), 64 connections where it can cap them. Measured:

- dribble: a client sends a request line, then one header line every second; when is it cut?
  (a timeout per read never fires; only a deadline for the whole header block does)
- silent: a client connects and sends nothing; when is it closed?
- kept idle: a client gets one response and keeps the connection; when is it closed?
- cap: 200 sockets opened at once sending nothing; how many are closed within 1 s?
- scrapes over Prometheus's kept-alive connection, alone then with ``--slow-clients``
  sockets open mid-request (a request line, no headers); failed or >15 s scrapes counted.

Candidates not installed are skipped. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).parent))
from bench_scrape import _Status, build_snapshot, free_port

from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.snapshot import SnapshotHolder

TIMEOUT = 10  # the idle/read timeout given to every candidate that has one
CAP = 64
OBSERVE = 30.0  # how long a client waits to be cut off before reporting "never"


def in_thread(target: Callable[[], object]) -> None:
    threading.Thread(target=target, daemon=True).start()


def start_ours(app: Any) -> int:
    server = ExporterServer(app, "127.0.0.1", 0, max_connections=CAP)
    server.start()
    return server.port


def start_cheroot(app: Any) -> int:
    from cheroot import wsgi

    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=10, timeout=TIMEOUT)
    server.prepare()
    in_thread(server.serve)
    return int(server.bind_addr[1])


def start_waitress(app: Any) -> int:
    import waitress

    server = waitress.create_server(
        app,
        host="127.0.0.1",
        port=0,
        connection_limit=CAP,
        channel_timeout=TIMEOUT,
        cleanup_interval=1,
    )
    in_thread(server.run)
    return int(server.effective_port)  # type: ignore[union-attr]


def start_uvicorn(app: Any) -> int:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        interface="wsgi",
        limit_concurrency=CAP,
        timeout_keep_alive=TIMEOUT,
        lifespan="off",
        log_level="error",
    )
    server = uvicorn.Server(config)
    in_thread(lambda: asyncio.run(server.serve()))
    while not server.started:
        time.sleep(0.05)
    return port


def start_hypercorn(app: Any) -> int:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.keep_alive_timeout = TIMEOUT
    config.accesslog = config.errorlog = None

    async def run() -> None:
        await serve(app, config, mode="wsgi", shutdown_trigger=asyncio.Event().wait)

    in_thread(lambda: asyncio.run(run()))
    wait_listening(port)
    return port


CANDIDATES: dict[str, Callable[[Any], int]] = {
    "ours (wsgiref + keep-alive)": start_ours,
    "cheroot": start_cheroot,
    "waitress": start_waitress,
    "uvicorn": start_uvicorn,
    "hypercorn": start_hypercorn,
}
MODULES = {name: name for name in ("cheroot", "waitress", "uvicorn", "hypercorn")}


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def closed(sock: socket.socket, wait: float) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def time_to_close(port: int, opening: bytes, dribble: bool) -> str:
    sock = socket.create_connection(("127.0.0.1", port))
    started = time.monotonic()
    if opening:
        sock.sendall(opening)
    n = 0
    while time.monotonic() - started < OBSERVE:
        if dribble:
            try:
                sock.sendall(f"X-Slow-{n}: 1\r\n".encode())
            except OSError:
                break
            n += 1
        if closed(sock, 1.0):
            break
    else:
        sock.close()
        return f"open after {OBSERVE:.0f} s"
    sock.close()
    return f"closed after {time.monotonic() - started:4.1f} s"


def kept_idle(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/healthz")
    connection.getresponse().read()
    assert connection.sock is not None
    sock: socket.socket = connection.sock
    started = time.monotonic()
    while time.monotonic() - started < OBSERVE:
        if closed(sock, 1.0):
            return f"closed after {time.monotonic() - started:4.1f} s"
    return f"open after {OBSERVE:.0f} s"


def cap(port: int) -> str:
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    time.sleep(1.0)
    shut = sum(closed(sock, 0.001) for sock in socks)
    for sock in socks:
        sock.close()
    return f"{shut} of 200 closed within 1 s"


def scrapes(connection: http.client.HTTPConnection, count: int, budget: float) -> str:
    times: list[float] = []
    failures: dict[str, int] = {}
    started = time.monotonic()
    for _ in range(count):
        if time.monotonic() - started > budget:
            break
        start = time.perf_counter()
        try:
            connection.request("GET", "/metrics", headers={"Accept": "text/plain"})
            response = connection.getresponse()
            body = response.read()
            failure = "" if response.status == 200 and body else f"HTTP {response.status}"
        except OSError as exc:
            failure = type(exc).__name__
            connection.close()
        if failure:
            failures[failure] = failures.get(failure, 0) + 1
        else:
            times.append((time.perf_counter() - start) * 1000)
    failed = ", ".join(f"{n} {reason}" for reason, n in failures.items()) or "none failed"
    if not times:
        return f"0 served ({failed})"
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return (
        f"p50 {statistics.median(times):7.2f} ms  p99 {p99:8.2f} ms  max {times[-1]:8.1f} ms  "
        f"({len(times)} served, {failed})"
    )


def run_one(name: str, slow_clients: int, count: int) -> None:
    holder = SnapshotHolder()
    holder.current = build_snapshot(20_000)
    app = ExporterApp(holder, SelfMetrics(["devices"], process_metrics=False), _Status())
    port = CANDIDATES[name](app)
    results: dict[str, str] = {}
    probes = {
        "dribble": lambda: time_to_close(port, b"GET /metrics HTTP/1.1\r\n", dribble=True),
        "silent": lambda: time_to_close(port, b"", dribble=False),
        "kept idle": lambda: kept_idle(port),
    }
    threads = [
        threading.Thread(target=lambda k=key, p=probe: results.__setitem__(k, p()))
        for key, probe in probes.items()
    ]
    for thread in threads:
        thread.start()
    prometheus = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    results["scrapes alone"] = scrapes(prometheus, count, 60)
    slow = []
    for _ in range(slow_clients):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        slow.append(sock)
    results[f"scrapes, {slow_clients} slow"] = scrapes(prometheus, count, 60)
    shut = sum(closed(sock, 0.001) for sock in slow)
    results[f"scrapes, {slow_clients} slow"] += f"; {shut} slow closed"
    for sock in slow:
        sock.close()
    for thread in threads:
        thread.join()
    time.sleep(TIMEOUT + 1)  # let the slow sockets' slots go before probing the cap
    results["cap (200 at once)"] = cap(port)
    print(name)
    for key in (
        "dribble",
        "silent",
        "kept idle",
        "cap (200 at once)",
        "scrapes alone",
        f"scrapes, {slow_clients} slow",
    ):
        print(f"  {key:<22} {results[key]}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slow-clients", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--only", help="run this candidate in this process")
    args = parser.parse_args()
    if args.only:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        run_one(args.only, args.slow_clients, args.scrapes)
        os._exit(0)  # some candidates' worker threads would keep the process alive
    print("command:", " ".join([sys.executable, *sys.argv]))
    for name in CANDIDATES:
        module = MODULES.get(name)
        if (
            module
            and subprocess.run(
                [sys.executable, "-c", f"import {module}"], capture_output=True
            ).returncode
        ):
            print(f"{name}: skipped (not installed)")
            continue
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--only",
                name,
                "--slow-clients",
                str(args.slow_clients),
                "--scrapes",
                str(args.scrapes),
            ],
            check=False,
            timeout=600,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
