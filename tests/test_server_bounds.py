"""What a client can hold of the HTTP server: a deadline for a request's headers (from the
accept for a new connection), an idle timeout between kept-alive requests, and a cap on open
connections past which new ones are closed at once, while scrapes keep being served."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from wsgiref.types import StartResponse, WSGIEnvironment

import httpx
import pytest

from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.snapshot import SnapshotHolder

from .test_server import StubStatus, small_snapshot


@contextmanager
def serving(
    max_connections: int = 64, header_deadline: float = 5.0, idle_timeout: float = 120.0
) -> Iterator[ExporterServer]:
    holder = SnapshotHolder()
    holder.current = small_snapshot()
    app = ExporterApp(holder, SelfMetrics(["devices"], process_metrics=False), StubStatus())
    server = ExporterServer(
        app,
        "127.0.0.1",
        0,
        max_connections=max_connections,
        header_deadline=header_deadline,
        idle_timeout=idle_timeout,
    )
    server.start()
    try:
        yield server
    finally:
        server.shutdown(timeout=5)


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.serial  # asserts how long something takes
def test_headers_dribbled_past_the_deadline_are_cut_off() -> None:
    with serving(header_deadline=0.6) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        started = time.monotonic()
        cut_off = False
        # One header line every 0.2 s, each well within the idle timeout: only a deadline for
        # the whole block stops it.
        for n in range(20):
            try:
                sock.sendall(f"X-Slow-{n}: 1\r\n".encode())
            except OSError:
                cut_off = True
                break
            if closed_by_server(sock, 0.2):
                cut_off = True
                break
        assert cut_off
        assert time.monotonic() - started < 2.0
        sock.close()
        # A normal request is unaffected.
        assert httpx.get(server.url + "metrics").status_code == 200


def test_at_the_cap_a_new_scrape_takes_the_slot_of_the_oldest_silent_connection() -> None:
    with serving(max_connections=5) as server, ExitStack() as stack:
        scraper = stack.enter_context(httpx.Client(base_url=server.url))
        assert scraper.get("/metrics").status_code == 200  # its connection is kept alive
        # Four clients that send nothing fill the other slots, the oldest first.
        for _ in range(4):
            stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            time.sleep(0.05)
        time.sleep(0.2)  # let the accept loop register them
        # A new scrape is answered: the oldest connection still reading its request gives
        # up its slot (held open until its header deadline: tests/test_connection_slots.py),
        # not the scraper's kept-alive one, not the newcomer.
        assert httpx.get(server.url + "metrics").status_code == 200
        assert (server.evicted_connections, server.refused_connections) == (1, 0)
        # The scraper's kept-alive connection is still served, quickly.
        for _ in range(20):
            assert scraper.get("/metrics").status_code == 200


def test_idle_kept_alive_connections_give_their_slot_after_silent_ones() -> None:
    with serving(max_connections=2) as server, ExitStack() as stack:
        kept: list[socket.socket] = []
        for _ in range(2):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            stack.callback(connection.close)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            assert connection.sock is not None
            kept.append(connection.sock)
            time.sleep(0.05)
        # No connection is reading a request: the one idle the longest gives its slot.
        assert httpx.get(server.url + "metrics").status_code == 200
        assert closed_by_server(kept[0], 2.0)
        assert not closed_by_server(kept[1], 0.2)
        assert server.evicted_connections == 1


def test_when_every_slot_is_serving_a_newcomer_is_closed_at_once() -> None:
    release = threading.Event()
    holder = SnapshotHolder()
    app = ExporterApp(holder, SelfMetrics(["devices"], process_metrics=False), StubStatus())

    def slow(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        release.wait(5)
        return app(environ, start_response)

    server = ExporterServer(slow, "127.0.0.1", 0, max_connections=2)
    server.start()
    try:
        with ExitStack() as stack:
            for _ in range(2):
                busy = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
                busy.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.3)  # both being served
            extra = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            assert closed_by_server(extra, 2.0)
            assert (server.refused_connections, server.evicted_connections) == (1, 0)
            release.set()
    finally:
        release.set()
        server.shutdown(timeout=5)


@pytest.mark.serial  # asserts how long something takes
def test_a_new_connection_that_sends_nothing_is_cut_at_the_header_deadline() -> None:
    with serving(header_deadline=0.5) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        started = time.monotonic()
        assert closed_by_server(sock, 3.0)
        assert 0.4 < time.monotonic() - started < 2.0
        sock.close()


def test_a_kept_alive_connection_waits_its_idle_timeout_not_the_header_deadline() -> None:
    with serving(header_deadline=0.3, idle_timeout=5.0) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        first = connection.sock
        # Longer than the header deadline, shorter than the idle timeout: like Prometheus
        # between two scrapes, the connection is still there and served.
        time.sleep(0.8)
        connection.request("GET", "/metrics")
        assert connection.getresponse().read()
        assert connection.sock is first
        connection.close()


@pytest.mark.serial  # asserts how long something takes
def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() -> None:
    with serving(idle_timeout=0.6) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        assert connection.sock is not None
        sock: socket.socket = connection.sock
        started = time.monotonic()
        assert closed_by_server(sock, 3.0)
        assert 0.5 < time.monotonic() - started < 2.5
        connection.close()
