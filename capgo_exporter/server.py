"""The HTTP surface: ``/`` (landing page), ``/metrics``, ``/healthz`` and ``/readyz``.

`ExporterApp` is a plain WSGI application; `ExporterServer` serves it with the standard
library's threaded WSGI server, bounded and kept alive between scrapes by `wsgiserver`.

A scrape costs the same whatever the number of Capgo series: it sends the snapshot's bytes,
rendered once by the scheduler, and renders only the small live registry of self-metrics.
It never touches the network, and nothing from a request (query string included) reaches
Capgo. Every route but ``/healthz`` and ``/readyz`` sits behind the web config's basic auth:
liveness and readiness probes (Kubernetes', Docker's) send no credentials, and ``ok`` or
``ready`` tells nobody anything.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import structlog

from capgo_exporter.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    wants_openmetrics,
)
from capgo_exporter.landing import DOCS, STYLE, render_landing_page
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.snapshot import Snapshot, SnapshotHolder
from capgo_exporter.status import ExporterStatus
from capgo_exporter.webconfig import AuthOutcome, WebConfig
from capgo_exporter.wsgiserver import (
    DEFAULT_MAX_CONNECTIONS,
    HEADER_DEADLINE_SECONDS,
    IDLE_TIMEOUT_SECONDS,
    CappedWSGIServer,
)

log = structlog.get_logger("capgo_exporter.server")

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
# What probes read without credentials.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


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
        if path not in PROBE_PATHS:
            outcome = self._web_config.authorize(environ.get("HTTP_AUTHORIZATION"))
            if outcome is AuthOutcome.BUSY:
                return _text(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    "too many password checks at once; try again\n",
                    ("Retry-After", "1"),
                )
            if outcome is AuthOutcome.DENIED:
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
        openmetrics = wants_openmetrics(environ.get("HTTP_ACCEPT"))
        snapshot, live = self._consistent_parts(openmetrics)
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

    def _consistent_parts(self, openmetrics: bool) -> tuple[Snapshot, bytes]:
        """The snapshot and the live part (health gauges, request counters) of one moment.

        The scheduler says a collector is down before it swaps in a snapshot without the
        collector's series, and up only after it swaps its series back in. Reading the
        snapshot, then the gauges, then checking that the snapshot is still current therefore
        never pairs missing series with a collector that says up; a swap in between is read
        again (swaps are a render apart, so a second read is as good as settled).
        """
        for _ in range(3):
            snapshot = self._holder.current
            # The live part comes last in the body: in OpenMetrics it carries the "# EOF".
            live = self._self_metrics.render(openmetrics=openmetrics)
            if self._holder.current is snapshot:
                break
        return snapshot, live

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
        # Markdown as text: a browser shows text/markdown as a download.
        return _Response(HTTPStatus.OK, _TEXT, (render().encode(),))


def host_port(host: str, port: int) -> str:
    """``127.0.0.1:10180``, ``[::]:10180``: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
        header_deadline: float = HEADER_DEADLINE_SECONDS,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    ) -> None:
        family, address = _bind_address(host)
        self._server = CappedWSGIServer(
            app,
            family,
            (address, port),
            max_connections=max_connections,
            header_deadline=header_deadline,
            idle_timeout=idle_timeout,
        )
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
    def refused_connections(self) -> int:
        """Connections closed at the accept because ``max_connections`` were serving."""
        return self._server.refused

    @property
    def bound(self) -> str:
        """The address the socket is bound to, as ``host:port`` (``[::]:10180`` on every
        interface over IPv4 and IPv6)."""
        return host_port(str(self._server.server_address[0]), self.port)

    @property
    def open_connections(self) -> int:
        return self._server.open_connections

    @property
    def evicted_connections(self) -> int:
        """Connections closed, still reading a request or idle, to make room for new ones."""
        return self._server.evictions

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
