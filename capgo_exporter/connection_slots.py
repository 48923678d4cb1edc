"""Who holds the HTTP server's connection slots, and who gives theirs up at the cap.

A connection is reading a request (its line and headers; a new connection from its accept),
idle between kept-alive requests, or being served. Past the cap, a new connection takes the
slot of one reading its request for the longest, else of one idle the longest; never of one
being served, and one whose whole request already waits in its socket only as a last
resort. Tested end to end in tests/test_server_bounds.py; measured under attack by
benchmarks/bench_http_attacks.py (docs/http-server.md).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Final

READING, IDLE, SERVING = "reading", "idle", "serving"
# A connection reading its request for less than this may be a client that has sent its
# request, its thread not yet run: at the cap it gives its slot only after idle ones.
READING_GRACE: Final = 0.5


def _eviction_rank(phase: str, age: float) -> int:
    """Which connection gives its slot to a newcomer at the cap, lowest first: one reading
    its request for longer than READING_GRACE (a client that sends nothing, or one header line
    every few seconds), then one idle between kept-alive requests, then one reading for less.
    One being served never does."""
    if phase == IDLE:
        return 1
    return 0 if age > READING_GRACE else 2


# Bytes of a connection's socket buffer looked at for a whole request head (the request line
# and headers a scraper sends in one go are far shorter).
PEEK_BYTES: Final = 8192


def _request_waiting(connection: socket.socket) -> bool:
    """A whole request head already in ``connection``'s socket buffer: its client has sent its
    request and only its thread has not run yet (on a busy machine, for a while). Under TLS
    the bytes are encrypted and this says False, so such a connection keeps its rank."""
    # Through a socket object of its own on the same descriptor: the connection's has a
    # timeout, with which Python waits for data before any recv, MSG_DONTWAIT or not, and
    # this runs on the accept thread.
    try:
        peeker = socket.socket(fileno=connection.fileno())
    except (OSError, ValueError):  # closed meanwhile
        return False
    try:
        peeked = peeker.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:  # nothing there yet
        return False
    finally:
        peeker.detach()  # the descriptor stays the connection's
    return b"\r\n\r\n" in peeked


# Connections held without a thread until their header deadline (see ParkingLot), at most.
MAX_PARKED: Final = 512


class ParkingLot:
    """Connections that lost their slot while still reading a request.

    They are not closed at once: their reading half is shut (their thread ends and frees the
    slot) and they are held, without a thread, until their header deadline, then closed. A
    client that re-connects as soon as it is closed (slowloris, a socket flood) thus gets one
    connection per header deadline, as before it lost its slot, instead of re-connecting
    thousands of times a second into the kernel's accept queue, where a scrape waits its turn
    behind it. At most `MAX_PARKED` are held: past that the longest held is closed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[socket.socket, float] = {}  # in the order parked

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def hold(self, connection: socket.socket, until: float) -> None:
        with self._lock:
            if len(self._held) >= MAX_PARKED:
                oldest = next(iter(self._held))
                del self._held[oldest]
                _close(oldest)
            self._held[connection] = until

    def release_expired(self, now: float) -> None:
        with self._lock:
            expired = [c for c, until in self._held.items() if until <= now]
            for connection in expired:
                del self._held[connection]
        for connection in expired:
            _close(connection)

    def release_all(self) -> None:
        self.release_expired(float("inf"))


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.close()


def _victim(candidates: list[tuple[int, float, int, socket.socket]]) -> socket.socket:
    """The first of ``candidates`` (in eviction order) whose request is not already waiting
    to be read, else the first: a scrape whose thread is slow to start keeps its slot while
    any slot can be taken from a client that has not sent a whole request."""
    for _, _, _, connection in candidates:
        if not _request_waiting(connection):
            return connection
    return candidates[0][3]


class Connections:
    """Every open connection and what it is doing: reading a request (its line and headers;
    a new connection reads from its accept), idle between kept-alive requests, or served.

    At the cap (`admit`), a new connection takes the slot of another that is not being served
    (`_eviction_rank`, the oldest of its rank): its socket is shut down, which wakes its thread
    to end it; one still reading its request is then parked until its header deadline
    (`ParkingLot`), an idle one closed. So clients that hold sockets open without completing
    requests cannot keep a scrape out; only when every slot is serving a request is the
    newcomer refused.

    `close` lets the requests in flight finish and wakes the other connections so that their
    threads end instead of waiting for a request that would no longer be served.
    """

    def __init__(self, cap: int, header_deadline: float) -> None:
        self._changed = threading.Condition()
        # Each connection's phase, and since when: its accept, or its request line when kept
        # alive; what it reads must arrive within header_deadline of that.
        self._phases: dict[socket.socket, tuple[str, float]] = {}
        self._evicted: set[socket.socket] = set()  # shut down, their thread not ended yet
        self._to_park: dict[socket.socket, float] = {}  # evicted while reading: held until
        self.parked = ParkingLot()
        self._busy = 0
        self.cap = cap
        self.header_deadline = header_deadline
        self.closing = False
        self.refused = 0
        self.evictions = 0

    def __len__(self) -> int:
        with self._changed:
            return len(self._phases)

    def admit(self, connection: socket.socket) -> bool:
        """On the accept thread: a slot for ``connection``, another's if need be."""
        with self._changed:
            if len(self._phases) - len(self._evicted) >= self.cap:
                now = time.monotonic()
                candidates = [
                    (_eviction_rank(phase, now - since), since, n, other)
                    for n, (other, (phase, since)) in enumerate(self._phases.items())
                    if phase != SERVING and other not in self._evicted
                ]
                if not candidates:
                    self.refused += 1
                    return False
                self._evict(_victim(sorted(candidates)))
            self._phases[connection] = (READING, time.monotonic())
            return True

    def _evict(self, victim: socket.socket) -> None:
        phase, since = self._phases[victim]
        self._evicted.add(victim)
        self.evictions += 1
        if phase == IDLE:
            self._shut(victim)
            return
        self._to_park[victim] = since + self.header_deadline
        with contextlib.suppress(OSError):  # wakes its thread; the client is told nothing
            socket.socket.shutdown(victim, socket.SHUT_RD)

    def forget(self, connection: socket.socket) -> bool:
        """Its thread has ended (or it was refused): the slot is free. True when the
        connection is parked rather than to be closed now."""
        with self._changed:
            self._phases.pop(connection, None)
            self._evicted.discard(connection)
            until = self._to_park.pop(connection, None)
        if until is None:
            return False
        self.parked.hold(connection, until)
        return True

    def _alive(self, connection: socket.socket) -> bool:
        return not self.closing and connection not in self._evicted

    def _move(self, connection: socket.socket, phase: str) -> bool:
        """Into ``phase`` now, unless the server is closing or the connection was evicted."""
        if not self._alive(connection):
            return False
        self._phases[connection] = (phase, time.monotonic())
        return True

    def wait_for_request(self, connection: socket.socket, first: bool) -> bool:
        """Before reading a request line: a kept-alive connection is idle until it comes; a
        new one is reading its request from its accept."""
        with self._changed:
            return self._alive(connection) if first else self._move(connection, IDLE)

    def request_line_read(self, connection: socket.socket, first: bool) -> bool:
        """The request line arrived: a kept-alive connection reads its headers from now."""
        with self._changed:
            return self._alive(connection) if first else self._move(connection, READING)

    def start_request(self, connection: socket.socket) -> bool:
        """The headers are in: the request is served from now, and never cut."""
        with self._changed:
            if not self._move(connection, SERVING):
                return False
            self._busy += 1
            return True

    def end_request(self) -> None:
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def close(self, timeout: float) -> bool:
        self.parked.release_all()
        with self._changed:
            self.closing = True
            for connection, (phase, _) in self._phases.items():
                if phase != SERVING:
                    self._shut(connection)
            return self._changed.wait_for(lambda: self._busy == 0, timeout)

    @staticmethod
    def _shut(connection: socket.socket) -> None:
        # The plain socket's shutdown, not SSLSocket's: it only has to wake the reader.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(connection, socket.SHUT_RDWR)
