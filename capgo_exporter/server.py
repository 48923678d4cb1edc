"""The HTTP surface: ``/`` (landing page), ``/metrics``, ``/healthz`` and ``/readyz``.

`ExporterApp` is a plain WSGI application; `ExporterServer` serves it with client_python's
threaded WSGI server (one daemon thread per connection), kept alive between scrapes.

A scrape costs the same whatever the number of Capgo series: it sends the snapshot's bytes,
rendered once by the scheduler, and renders only the small live registry of self-metrics.
It never touches the network, and nothing from a request (query string included) reaches
Capgo. Every route but ``/healthz`` sits behind the web config's basic auth: liveness probes
rarely carry credentials, and ``ok`` tells nobody anything.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, Any, cast
from wsgiref.headers import Headers
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import structlog
from prometheus_client.exposition import ThreadingWSGIServer

from capgo_exporter import __version__
from capgo_exporter.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    wants_openmetrics,
)
from capgo_exporter.landing import DOCS, STYLE, render_landing_page
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.snapshot import SnapshotHolder
from capgo_exporter.status import ExporterStatus
from capgo_exporter.webconfig import WebConfig

log = structlog.get_logger("capgo_exporter.server")

_SOFTWARE = f"capgo-exporter/{__version__}"
# An idle kept-alive connection is closed after this long (Prometheus simply reconnects);
# it also bounds how long a client may take to send a request or finish a TLS handshake.
_IDLE_TIMEOUT_SECONDS = 120.0
# A request's headers must all arrive within this long of its request line: a client sending
# one header line every few seconds (slowloris) is cut off instead of holding a thread.
HEADER_DEADLINE_SECONDS = 5.0
DEFAULT_MAX_CONNECTIONS = 64

# No script, no external anything; the one inline stylesheet is allowed by its hash.
_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", _CSP),
)
_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class _Response:
    status: HTTPStatus
    content_type: str
    body: tuple[bytes, ...]
    headers: tuple[tuple[str, str], ...] = ()


def _text(status: HTTPStatus, text: str, *headers: tuple[str, str]) -> _Response:
    return _Response(status, _TEXT, (text.encode(),), headers)


def gzip_accepted(accept_encoding: str | None) -> bool:
    """``gzip`` listed in Accept-Encoding, unless refused with ``q=0``."""
    for item in (accept_encoding or "").split(","):
        coding, *params = item.split(";")
        if coding.strip().lower() != "gzip":
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


class ExporterApp:
    """The WSGI application: routing, basic auth, security headers."""

    def __init__(
        self,
        holder: SnapshotHolder,
        self_metrics: SelfMetrics,
        status: ExporterStatus,
        *,
        web_config: WebConfig | None = None,
        telemetry_path: str = "/metrics",
        demo: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._holder = holder
        self._self_metrics = self_metrics
        self._status = status
        self._web_config = web_config or WebConfig()
        self._telemetry_path = telemetry_path
        self._demo = demo
        self._wall_clock = wall_clock
        # Configured headers replace our defaults of the same name.
        configured = {name.lower() for name, _ in self._web_config.headers}
        self._headers = tuple(
            header for header in _SECURITY_HEADERS if header[0].lower() not in configured
        ) + tuple(self._web_config.headers)
        self._routes: dict[str, Callable[[WSGIEnvironment], _Response]] = {
            "/": self._landing,
            telemetry_path: self._metrics,
            **dict.fromkeys(DOCS, self._doc),
            "/healthz": self._healthz,
            "/readyz": self._readyz,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self._respond(environ)
        except Exception:
            log.exception("request failed", path=environ.get("PATH_INFO"))
            response = _text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error\n")
        length = sum(len(chunk) for chunk in response.body)
        start_response(
            f"{response.status.value} {response.status.phrase}",
            [
                ("Content-Type", response.content_type),
                ("Content-Length", str(length)),
                *response.headers,
                *self._headers,
            ],
        )
        return () if environ["REQUEST_METHOD"] == "HEAD" else response.body

    def _respond(self, environ: WSGIEnvironment) -> _Response:
        path = environ.get("PATH_INFO") or "/"
        if path != "/healthz" and not self._web_config.authorized(
            environ.get("HTTP_AUTHORIZATION")
        ):
            return _text(
                HTTPStatus.UNAUTHORIZED,
                "unauthorized\n",
                ("WWW-Authenticate", 'Basic realm="capgo-exporter"'),
            )
        route = self._routes.get(path)
        if route is None:
            return _text(HTTPStatus.NOT_FOUND, "not found — see /\n")
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return _text(
                HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n", ("Allow", "GET, HEAD")
            )
        return route(environ)

    def _metrics(self, environ: WSGIEnvironment) -> _Response:
        snapshot = self._holder.current
        openmetrics = wants_openmetrics(environ.get("HTTP_ACCEPT"))
        # The live part comes last: in OpenMetrics it carries the closing "# EOF".
        live = self._self_metrics.render(openmetrics=openmetrics)
        if openmetrics:
            content_type, plain, packed = (
                OPENMETRICS_CONTENT_TYPE,
                snapshot.openmetrics,
                snapshot.openmetrics_gzip,
            )
        else:
            content_type, plain, packed = (
                TEXT_CONTENT_TYPE,
                snapshot.text,
                snapshot.text_gzip,
            )
        vary = ("Vary", "Accept, Accept-Encoding")
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING")):
            # One gzip stream: the snapshot part was compressed once, at render time.
            body = (packed.head, packed.finish(live))
            return _Response(
                HTTPStatus.OK, content_type, body, (vary, ("Content-Encoding", "gzip"))
            )
        return _Response(HTTPStatus.OK, content_type, (plain, live), (vary,))

    def _healthz(self, environ: WSGIEnvironment) -> _Response:
        if self._status.healthy():
            return _text(HTTPStatus.OK, "ok\n")
        return _text(HTTPStatus.SERVICE_UNAVAILABLE, "unhealthy: the poll loop is not running\n")

    def _readyz(self, environ: WSGIEnvironment) -> _Response:
        if self._status.ready():
            return _text(HTTPStatus.OK, "ready\n")
        waiting = [s.name for s in self._status.collector_statuses() if not s.finished_first_run]
        detail = f": waiting for the first run of {', '.join(waiting)}" if waiting else ""
        return _text(HTTPStatus.SERVICE_UNAVAILABLE, f"not ready{detail}\n")

    def _landing(self, environ: WSGIEnvironment) -> _Response:
        page = render_landing_page(
            self._status.collector_statuses(),
            self._wall_clock(),
            telemetry_path=self._telemetry_path,
            demo=self._demo,
        )
        return _Response(HTTPStatus.OK, _HTML, (page.encode(),))

    def _doc(self, environ: WSGIEnvironment) -> _Response:
        _, render = DOCS[environ.get("PATH_INFO", "")]
        return _Response(HTTPStatus.OK, "text/markdown; charset=utf-8", (render().encode(),))


class _Connections:
    """Open connections, and whether each is idle or in the middle of a request.

    `close` lets the requests in flight finish and wakes the idle connections so that their
    threads end instead of waiting for a request that would no longer be served.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._idle: set[socket.socket] = set()
        self._busy = 0
        self.closing = False

    def wait_for_request(self, connection: socket.socket) -> bool:
        with self._changed:
            if not self.closing:
                self._idle.add(connection)
            return not self.closing

    def start_request(self, connection: socket.socket) -> bool:
        with self._changed:
            self._idle.discard(connection)
            if not self.closing:
                self._busy += 1
            return not self.closing

    def end_request(self) -> None:
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def forget(self, connection: socket.socket) -> None:
        with self._changed:
            self._idle.discard(connection)

    def close(self, timeout: float) -> bool:
        with self._changed:
            self.closing = True
            for connection in self._idle:
                # The plain socket's shutdown, not SSLSocket's: it only has to wake the reader.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(connection, socket.SHUT_RDWR)
            return self._changed.wait_for(lambda: self._busy == 0, timeout)


class _ServerHandler(ServerHandler):
    server_software = _SOFTWARE
    http_version = "1.1"
    # wsgiref copies the process environment into every request's environ by default; ours
    # holds the API key, which has no business next to request data.
    os_environ: dict[str, str] = {}  # noqa: RUF012 — read-only, shadows wsgiref's class attribute
    request_handler: _Handler
    headers: Headers  # set by start_response

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        if self.request_handler.close_connection:
            self.headers["Connection"] = "close"

    def log_exception(self, exc_info: object) -> None:
        log.error("request failed", exc_info=exc_info)


class _Handler(WSGIRequestHandler):
    """wsgiref's handler serves one request per connection; this one keeps it alive (HTTP/1.1),
    so Prometheus does not reconnect — and redo the TLS handshake — on every scrape."""

    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT_SECONDS
    server: _Server

    def setup(self) -> None:
        super().setup()
        # The response goes out in a few writes; without this, Nagle's algorithm can hold the
        # last one back until the client's delayed ACK, 40 ms later.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        connections = self.server.connections
        try:
            while connections.wait_for_request(self.connection):
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline or not connections.start_request(self.connection):
                    break
                try:
                    self._handle_request()
                finally:
                    connections.end_request()
                if self.close_connection or connections.closing:
                    break
        except OSError as exc:  # timeouts, resets, failed TLS handshakes: the client's doing
            log.debug("connection dropped", client=self.client_address[0], reason=str(exc))
        finally:
            connections.forget(self.connection)

    def _handle_request(self) -> None:
        self.close_connection = True
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        # parse_request reads the headers with readline(): each read gets what is left of
        # the deadline as its socket timeout, so the whole header block is bounded.
        body_reader = self.rfile
        self.rfile = cast(
            Any, _DeadlineReader(body_reader, self.connection, HEADER_DEADLINE_SECONDS)
        )
        try:
            parsed = self.parse_request()
        finally:
            self.rfile = body_reader
            self.connection.settimeout(self.timeout)
        if not parsed:  # it has answered with an error
            return
        # Request bodies are never read, so a connection that sent one cannot be reused; an
        # HTTP/1.0 client would not expect it to be.
        self.close_connection = (
            self.request_version != "HTTP/1.1"
            or self.headers.get("Connection", "").lower() == "close"
            or self.headers.get("Content-Length", "0") != "0"
            or "Transfer-Encoding" in self.headers
        )
        handler = _ServerHandler(
            self.rfile,
            cast(IO[bytes], self.wfile),
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self
        handler.run(self.server.app)

    def log_message(self, format: str, *args: object) -> None:
        """No access log: one line per scrape would drown everything else."""


class _DeadlineReader:
    """``readline`` of a request's header block, all lines within one deadline."""

    def __init__(self, rfile: Any, connection: socket.socket, seconds: float) -> None:
        self._rfile = rfile
        self._connection = connection
        self._deadline = time.monotonic() + seconds

    def readline(self, limit: int = -1) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request headers not received in time")
        self._connection.settimeout(remaining)
        return bytes(self._rfile.readline(limit))


class _Server(ThreadingWSGIServer):
    request_queue_size = 64

    def __init__(
        self,
        app: WSGIApplication,
        family: socket.AddressFamily,
        address: tuple[str, int],
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.app = app
        self.address_family = family
        self.connections = _Connections()
        self.max_connections = max_connections
        self._open: set[object] = set()
        self._open_lock = threading.Lock()
        self.refused = 0
        super().__init__(address, _Handler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Past the cap, a new connection is closed on the accept thread: no thread, no read."""
        with self._open_lock:
            if len(self._open) >= self.max_connections:
                self.refused += 1
                return False
            self._open.add(request)
            return True

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._open_lock:
            self._open.discard(request)

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


def _bind_address(host: str) -> tuple[socket.AddressFamily, str]:
    """The family and address to bind for a host name; "" means every interface."""
    if not host:
        if socket.has_dualstack_ipv6():
            return socket.AF_INET6, "::"
        return socket.AF_INET, "0.0.0.0"
    family, _, _, _, sockaddr = socket.getaddrinfo(
        host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, str(sockaddr[0])


class ExporterServer:
    """Serves a WSGI app on a background thread, over TLS when the web config says so."""

    def __init__(
        self,
        app: WSGIApplication,
        host: str,
        port: int,
        *,
        web_config: WebConfig | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        family, address = _bind_address(host)
        self._server = _Server(app, family, (address, port), max_connections)
        context = web_config.ssl_context if web_config else None
        if context is not None:
            # The handshake happens on the first read, in the connection's own thread, so a
            # client that never finishes it cannot stall the accept loop.
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._scheme = "https" if context else "http"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        # Every interface: localhost is an address a terminal can open (a click works there).
        if host in ("0.0.0.0", "::", ""):
            host = "localhost"
        if ":" in host:
            host = f"[{host}]"
        return f"{self._scheme}://{host}:{self.port}/"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="http-server",
            daemon=True,
        )
        self._thread.start()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop accepting, let the requests in flight finish (up to ``timeout`` seconds).

        Returns False when some were still running at the deadline.
        """
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        return self._server.connections.close(timeout)
