"""The simulator over TCP: a stdlib threading HTTP server, one thread per connection.

Latency and hangs sleep in the connection's own thread, so slow answers never hold up others.
With ``gzip``, bodies over 1 KiB are gzip-compressed for clients that accept it, as Capgo's
CDN does: what a client pays to decompress them can then be measured.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from capgo_exporter.sim.protocol import RequestHandler, SimRequest

log = logging.getLogger(__name__)


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging request must not block shutdown
    request_queue_size = 256  # many clients connecting at once

    def __init__(self, address: tuple[str, int], answer: RequestHandler, *, compress: bool) -> None:
        super().__init__(address, _Handler)
        self.answer = answer  # not `handle_request`: the server's own method has that name
        self.compress = compress

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so client pools reuse connections
    server: SimHTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = SimRequest(
            method=self.command,
            path=url.path,
            query=url.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client_ip=self.client_address[0],
        )
        response = self.server.answer(request)
        if response.delay:
            time.sleep(response.delay)
        body = response.body
        compress = self.server.compress and len(body) > 1024
        if compress and "gzip" in request.headers.get("accept-encoding", ""):
            body = gzip.compress(body, compresslevel=6)
        else:
            compress = False
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if compress:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


@contextmanager
def running_server(
    answer: RequestHandler, host: str, port: int, *, compress: bool = False
) -> Iterator[str]:
    """Serve ``answer`` over TCP in a background thread; yields the base URL."""
    server = SimHTTPServer((host, port), answer, compress=compress)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="capgo-sim-http",
        daemon=True,
    )
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
