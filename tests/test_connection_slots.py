"""Which connection gives its slot at the cap, and what becomes of it: one still reading its
request is held open, told nothing, until its header deadline; an idle one is closed at once."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from capgo_exporter import connection_slots
from capgo_exporter.connection_slots import Connections

from .test_server_bounds import closed_by_server


@contextmanager
def pairs(count: int) -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    """``count`` loopback TCP connections: (the client's end, the server's end)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        made = []
        for _ in range(count):
            client = socket.create_connection(listener.getsockname())
            made.append((client, listener.accept()[0]))
        try:
            yield made
        finally:
            for client, server_end in made:
                client.close()
                server_end.close()


def test_a_connection_reading_its_request_is_parked_until_its_deadline() -> None:
    slots = Connections(cap=1, header_deadline=0.5)
    with pairs(2) as ((old_client, old), (_, new)):
        assert slots.admit(old)
        assert slots.admit(new)  # the old one gives its slot
        assert slots.evictions == 1
        assert slots.forget(old)  # its thread ended: kept open, not closed
        assert len(slots.parked) == 1
        assert not closed_by_server(old_client, 0.2)  # the client is told nothing
        slots.parked.release_expired(time.monotonic())  # not yet: its deadline is later
        assert len(slots.parked) == 1
        slots.parked.release_expired(time.monotonic() + 1.0)
        assert len(slots.parked) == 0
        assert closed_by_server(old_client, 1.0)


def test_an_idle_kept_alive_connection_is_closed_at_once() -> None:
    slots = Connections(cap=1, header_deadline=5.0)
    with pairs(2) as ((idle_client, idle), (_, new)):
        assert slots.admit(idle)
        assert slots.wait_for_request(idle, first=False)  # served once, now idle
        assert slots.admit(new)
        assert closed_by_server(idle_client, 1.0)
        assert not slots.forget(idle)  # to be closed by its thread's end, not parked
        assert len(slots.parked) == 0
        assert slots.evictions == 1


def test_a_connection_being_served_is_never_taken() -> None:
    slots = Connections(cap=1, header_deadline=5.0)
    with pairs(2) as ((_, served), (_, new)):
        assert slots.admit(served)
        assert slots.start_request(served)
        assert not slots.admit(new)
        assert (slots.refused, slots.evictions) == (1, 0)
        slots.end_request()


def test_an_evicted_connection_cannot_start_a_request() -> None:
    slots = Connections(cap=1, header_deadline=5.0)
    with pairs(2) as ((_, old), (_, new)):
        assert slots.admit(old)
        assert slots.admit(new)
        assert not slots.start_request(old)  # its headers came in too late


def test_the_parking_lot_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_slots, "MAX_PARKED", 2)
    slots = Connections(cap=1, header_deadline=60.0)
    with pairs(4) as made:
        for _, server_end in made:
            slots.admit(server_end)
        for _, server_end in made[:3]:
            slots.forget(server_end)
        assert len(slots.parked) == 2
        assert closed_by_server(made[0][0], 1.0)  # the longest held, closed first
        slots.close(timeout=1)
        assert len(slots.parked) == 0


def test_a_connection_whose_whole_request_waits_keeps_its_slot_over_a_younger_one() -> None:
    # Both are new and reading (their threads not run yet); the older has sent its request.
    slots = Connections(cap=2, header_deadline=5.0)
    with pairs(3) as ((scraper, waiting), (dribbler, partial), (_, new)):
        scraper.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        dribbler.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # headers not done
        assert slots.admit(waiting)
        assert slots.admit(partial)
        time.sleep(0.05)  # both have arrived in the server ends' buffers
        assert slots.admit(new)
        assert slots.evictions == 1
        assert slots.start_request(waiting)  # kept: its thread can serve it
        assert not slots.start_request(partial)  # it gave its slot
        slots.end_request()


def test_when_every_request_waits_the_oldest_still_gives_its_slot() -> None:
    slots = Connections(cap=1, header_deadline=5.0)
    with pairs(2) as ((client, old), (_, new)):
        client.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert slots.admit(old)
        time.sleep(0.05)
        assert slots.admit(new)  # a newcomer is not refused while a slot can be taken
        assert not slots.start_request(old)
