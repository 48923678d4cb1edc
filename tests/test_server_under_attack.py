"""No client can keep a scrape out: fresh scrapes are all answered while more clients than the
connection cap hold sockets silently, dribble headers, or flood wrong passwords.

Small scale (a cap of 12, a 1 s header deadline, a few seconds, bounded loops); the figures at
the issue's scale come from benchmarks/bench_http_attacks.py. The attackers run in a process
of their own, as clients do: in the server's, their threads would compete with it for the
interpreter lock, which no client can do.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from pathlib import Path

import bcrypt
import httpx
import pytest

from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.snapshot import SnapshotHolder
from capgo_exporter.webconfig import WebConfig, load_web_config

from .test_server import StubStatus, small_snapshot

# A cap well above the 4 password checks that may run or wait at once (webconfig.BCRYPT_QUEUE):
# a slot is refused only when every one is serving a request.
CAP, DEADLINE, ATTACKERS = 12, 1.0, 36
ATTACK_SECONDS = 6.0  # each attacker stops by then, whatever happens
SCRAPES = 10
PASSWORD = "right"


# Each attack lasts until the scrapes are done, ATTACK_SECONDS at most; the scrapes measure
# latency under attack, so they run alone, after the parallel part of the suite.
pytestmark = pytest.mark.serial


@contextmanager
def server(web_config: WebConfig | None = None) -> Iterator[ExporterServer]:
    holder = SnapshotHolder()
    holder.current = small_snapshot()
    app = ExporterApp(
        holder, SelfMetrics(["devices"], process_metrics=False), StubStatus(), web_config=web_config
    )
    exporter = ExporterServer(
        app, "127.0.0.1", 0, web_config=web_config, max_connections=CAP, header_deadline=DEADLINE
    )
    exporter.start()
    try:
        yield exporter
    finally:
        exporter.shutdown(timeout=5)


def silent(port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(0.2)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    if sock.recv(1024) == b"":
                        break


def slowloris(port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            for n in range(100):
                if stop.wait(0.2):
                    break
                sock.sendall(f"X-Slow-{n}: 1\r\n".encode())


def wrong_passwords(port: int, stop: threading.Event) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                client.get("/metrics", auth=("prometheus", "wrong"))


def attackers(attacker: Callable[[int, threading.Event], None], port: int, scraped: Event) -> None:
    """In the attackers' process: ATTACKERS threads until the scrapes are done (``scraped``),
    ATTACK_SECONDS at most."""
    stop = threading.Event()
    threads = [threading.Thread(target=attacker, args=(port, stop)) for _ in range(ATTACKERS)]
    for thread in threads:
        thread.start()
    scraped.wait(ATTACK_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(5)


def under_attack(
    attacker: Callable[[int, threading.Event], None],
    exporter: ExporterServer,
    auth: tuple[str, str] | None = None,
) -> list[int | str]:
    """Fresh-connection scrapes while ATTACKERS run ``attacker``: their statuses, or the
    error of a lost one (its name says how it was lost)."""
    spawn = multiprocessing.get_context("spawn")
    scraped = spawn.Event()
    process = spawn.Process(target=attackers, args=(attacker, exporter.port, scraped))
    process.start()
    statuses: list[int | str] = []
    try:
        deadline = time.monotonic() + 5
        while exporter.open_connections < CAP and time.monotonic() < deadline:
            time.sleep(0.05)  # until the attack fills the cap
        for _ in range(SCRAPES):
            try:
                response = httpx.get(exporter.url + "metrics", auth=auth, timeout=3)
                statuses.append(response.status_code)
            except httpx.HTTPError as error:
                statuses.append(type(error).__name__)
    finally:
        scraped.set()
        process.join(ATTACK_SECONDS + 10)
        if process.is_alive():
            process.kill()
            process.join()
    return statuses


def test_fresh_scrapes_get_in_past_silent_connections() -> None:
    with server() as exporter:
        assert under_attack(silent, exporter) == [200] * SCRAPES
        assert exporter.evicted_connections >= SCRAPES


def test_fresh_scrapes_get_in_past_slowloris() -> None:
    with server() as exporter:
        assert under_attack(slowloris, exporter) == [200] * SCRAPES
        assert exporter.evicted_connections >= SCRAPES


def test_a_known_password_gets_in_past_a_flood_of_wrong_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    config_file = tmp_path / "web.yml"
    config_file.write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    config = load_web_config(config_file)
    real_checkpw = bcrypt.checkpw

    def slow_checkpw(password: bytes, hashed: bytes) -> bool:
        time.sleep(0.1)  # as a high cost would
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", slow_checkpw)
    with server(config) as exporter:
        auth = ("prometheus", PASSWORD)
        assert httpx.get(exporter.url + "metrics", auth=auth).status_code == 200  # verified once
        assert under_attack(wrong_passwords, exporter, auth) == [200] * SCRAPES
