"""HTTP/1.1 on the standard library's WSGI server: keep-alive, header deadlines, a connection cap.

wsgiref serves one request per connection and bounds nothing but each read. This module adds
what a production exporter needs, and it is the ONE place that depends on how wsgiref,
http.server and socketserver work inside rather than on what their documentation promises.
docs/http-server.md says why no maintained server replaces it. Each such dependency is listed
here and checked by tests/test_server_stdlib.py, which fails naming it when a Python upgrade
changes it:

1. ``BaseHTTPRequestHandler.parse_request()`` (undocumented) parses ``raw_requestline`` and
   reads the header block only through ``self.rfile.readline()``, one line a call, stopping
   at the blank line: `_DeadlineReader` stands in for ``rfile`` while it runs. For a request
   line without a version (HTTP/0.9) it differs between Pythons: 3.11, 3.12 and 3.13 before
   3.13.10 read a header block all the same; later 3.13 releases (gh-70765) read none and
   leave ``headers`` a plain dict, which ``get_environ()`` cannot read. Such a request is
   answered with an error on all of them (`KeepAliveHandler._handle_request`).
2. ``WSGIRequestHandler.handle()`` serves one request; `KeepAliveHandler.handle` is a loop of
   what it does. A check added to it upstream would be missed, so its source is fingerprinted,
   as is ``HTTPServer.server_bind()``, whose assignments `CappedWSGIServer.server_bind` repeats
   without its DNS lookup.
3. ``WSGIServer.setup_environ()`` (undocumented) fills ``base_environ`` (documented) from
   ``server_name`` and ``server_port``.
4. socketserver calls ``shutdown_request()`` both for a connection ``verify_request()``
   refused and when a connection's thread ends: the open-connection count is kept there.

The rest is documented API: ``WSGIRequestHandler.get_environ()``/``get_stderr()``,
``wsgiref.handlers.SimpleHandler`` and its ``os_environ``/``cleanup_headers`` hooks,
``socketserver.ThreadingMixIn`` and ``verify_request()``, and ``ssl`` sockets whose handshake
runs on the first read.
"""

from __future__ import annotations

import socket
import socketserver
import time
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import IO, Any, cast
from wsgiref.handlers import SimpleHandler
from wsgiref.headers import Headers
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.types import WSGIApplication

import structlog

from capgo_exporter import __version__
from capgo_exporter.connection_slots import Connections

log = structlog.get_logger("capgo_exporter.server")

# A kept-alive connection waits this long for its next request (Prometheus simply reconnects).
IDLE_TIMEOUT_SECONDS = 120.0
# A request's headers must all arrive within this long: a client sending one header line every
# few seconds (slowloris) is cut off instead of holding a thread. A new connection's first
# request counts from the accept, so a silent client or a stalled TLS handshake is cut too.
HEADER_DEADLINE_SECONDS = 5.0
DEFAULT_MAX_CONNECTIONS = 64
_MAX_REQUEST_LINE = 65536  # as http.server


class _DeadlineReader:
    """``readline`` for a request line and header block: every line within one deadline."""

    def __init__(self, rfile: Any, connection: socket.socket, deadline: float) -> None:
        self._rfile = rfile
        self._connection = connection
        self._deadline = deadline

    def readline(self, limit: int = -1) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request headers not received in time")
        self._connection.settimeout(remaining)
        return bytes(self._rfile.readline(limit))


class _ResponseHandler(SimpleHandler):
    """Runs the app for one request; adds ``Connection: close`` when it is the last one."""

    server_software = f"capgo-exporter/{__version__}"
    http_version = "1.1"
    # wsgiref copies the process environment into every request's environ by default; ours
    # holds the API key, which has no business next to request data.
    os_environ: dict[str, str] = {}  # noqa: RUF012 — read-only, shadows wsgiref's class attribute
    headers: Headers  # set by start_response
    last_on_connection = True

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        if self.last_on_connection:
            self.headers["Connection"] = "close"

    def log_exception(self, exc_info: object) -> None:
        log.error("request failed", exc_info=exc_info)


class KeepAliveHandler(WSGIRequestHandler):
    """Serves requests on one connection until the client or the server ends it (HTTP/1.1),
    so Prometheus does not reconnect — and redo the TLS handshake — on every scrape."""

    protocol_version = "HTTP/1.1"
    server: CappedWSGIServer

    def setup(self) -> None:
        self._accepted = time.monotonic()
        super().setup()
        # The response goes out in a few writes; without this, Nagle's algorithm can hold the
        # last one back until the client's delayed ACK, 40 ms later.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        connections = self.server.connections
        first = True
        try:
            while connections.wait_for_request(self.connection, first):
                deadline = self._read_request_line(first)
                if not self.raw_requestline:
                    break
                if not connections.request_line_read(self.connection, first):
                    break
                first = False
                if not self._read_headers(deadline):  # answered with an error
                    break
                if not connections.start_request(self.connection):
                    break
                try:
                    self._serve()
                finally:
                    connections.end_request()
                if self.close_connection or connections.closing:
                    break
        except OSError as exc:  # timeouts, resets, failed TLS handshakes: the client's doing
            log.debug("connection dropped", client=self.client_address[0], reason=str(exc))

    def _read_request_line(self, first: bool) -> float:
        """Reads the request line; returns the deadline for the rest of the header block."""
        if first:  # the TLS handshake, the request line and headers: one deadline from accept
            deadline = self._accepted + self.server.header_deadline
            reader = _DeadlineReader(self.rfile, self.connection, deadline)
            self.raw_requestline = reader.readline(_MAX_REQUEST_LINE + 1)
            return deadline
        self.connection.settimeout(self.server.idle_timeout)
        self.raw_requestline = self.rfile.readline(_MAX_REQUEST_LINE + 1)
        return time.monotonic() + self.server.header_deadline

    def _read_headers(self, deadline: float) -> bool:
        """Parse the request line and read the headers by ``deadline``; False when the
        request was answered with an error instead (the connection then closes)."""
        self.close_connection = True
        if len(self.raw_requestline) > _MAX_REQUEST_LINE:
            self.requestline = self.request_version = self.command = ""
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return False
        body_reader = self.rfile
        self.rfile = cast(Any, _DeadlineReader(body_reader, self.connection, deadline))
        try:
            parsed = self.parse_request()
        finally:
            self.rfile = body_reader
            self.connection.settimeout(self.server.idle_timeout)
        if not parsed:  # it has answered with an error
            return False
        if self.request_version == "HTTP/0.9":  # no headers to read; see assumption 1
            # A 400 with a status line, then the connection closed: as HTTP/0.9 the answer
            # would be a bare body, which a client cannot tell from a page it asked for.
            self.request_version = "HTTP/1.1"
            self.send_error(HTTPStatus.BAD_REQUEST, explain="the request line has no HTTP version")
            return False
        # Request bodies are never read, so a connection that sent one cannot be reused; an
        # HTTP/1.0 client would not expect it to be.
        self.close_connection = (
            self.request_version != "HTTP/1.1"
            or self.headers.get("Connection", "").lower() == "close"
            or self.headers.get("Content-Length", "0") != "0"
            or "Transfer-Encoding" in self.headers
        )
        return True

    def _serve(self) -> None:
        """Run the application for the request whose headers were read."""
        handler = _ResponseHandler(
            self.rfile,
            cast(IO[bytes], self.wfile),
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.last_on_connection = self.close_connection
        handler.run(self.server.app)

    def log_message(self, format: str, *args: object) -> None:
        """No access log: one line per scrape would drown everything else."""


class CappedWSGIServer(ThreadingMixIn, WSGIServer):
    """A thread per connection, at most ``max_connections`` of them. Past the cap a new
    connection takes the slot of one that is reading its request or idle (see
    connection_slots.py); when every slot is serving a request, it is closed on the accept
    thread, before any thread or read."""

    daemon_threads = True
    # The kernel's queue of connections not yet accepted (capped by net.core.somaxconn): a
    # flood of reconnecting clients must not overflow it, or the kernel drops a scrape's
    # connection and its client tries again only a second later.
    request_queue_size = 1024

    def __init__(
        self,
        app: WSGIApplication,
        family: socket.AddressFamily,
        address: tuple[str, int],
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        header_deadline: float = HEADER_DEADLINE_SECONDS,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    ) -> None:
        self.app = app
        self.address_family = family
        self.connections = Connections(max_connections, header_deadline)
        self.max_connections = max_connections
        self.header_deadline = header_deadline
        self.idle_timeout = idle_timeout
        super().__init__(address, KeepAliveHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return self.connections.admit(request)

    def shutdown_request(self, request: Any) -> None:
        if not self.connections.forget(request):  # else held until its header deadline
            super().shutdown_request(request)

    def service_actions(self) -> None:
        """Between two accepts (at least every poll interval): close what was parked."""
        super().service_actions()
        self.connections.parked.release_expired(time.monotonic())

    @property
    def open_connections(self) -> int:
        return len(self.connections)

    @property
    def refused(self) -> int:
        """Connections closed at the accept: every slot was serving a request."""
        return self.connections.refused

    @property
    def evictions(self) -> int:
        """Connections closed to give their slot to a new one."""
        return self.connections.evictions

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            # "::" then also accepts IPv4, like Go's ":port".
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # HTTPServer.server_bind would resolve our own name (socket.getfqdn): a DNS lookup at
        # startup for a value nobody reads.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    def handle_error(self, request: object, client_address: object) -> None:
        log.exception("connection failed", client=str(client_address))
