"""What `capgo_exporter.wsgiserver` assumes about the standard library's HTTP server internals.

Each test checks one numbered assumption of that module's docstring, and fails saying which
one a Python upgrade broke: then read the stdlib's new code, adapt `wsgiserver`, and only then
update the test.
"""

from __future__ import annotations

import ast
import hashlib
import http.client
import inspect
import io
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest

from capgo_exporter.wsgiserver import CappedWSGIServer

# Fingerprints of the stdlib functions `wsgiserver` repeats rather than calls (assumption 2),
# reviewed on Python 3.11.2 and 3.11.7: the syntax tree without docstrings, so a reworded
# comment does not count as a change.
REVIEWED = {
    "WSGIRequestHandler.handle": "ad649d19afcc3b56",
    "HTTPServer.server_bind": "ac7f9dcd807edfbe",
}
REPEATED: dict[str, Callable[..., Any]] = {
    "WSGIRequestHandler.handle": WSGIRequestHandler.handle,
    "HTTPServer.server_bind": HTTPServer.server_bind,
}


def fingerprint(function: Callable[..., Any]) -> str:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.FunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            node.body = body[1:]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(REVIEWED))
def test_2_the_stdlib_code_wsgiserver_repeats_is_the_code_reviewed(name: str) -> None:
    assert fingerprint(REPEATED[name]) == REVIEWED[name], (
        f"assumption 2 of capgo_exporter/wsgiserver.py: {name} changed in Python "
        f"{sys.version.split()[0]}; wsgiserver repeats what it does, so compare the two, carry "
        "any new check over, then record the new fingerprint here"
    )


class LineRecorder:
    """An rfile that only has ``readline``, recording each call."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.limits: list[int] = []

    def readline(self, limit: int = -1) -> bytes:
        self.limits.append(limit)
        return self._data.readline(limit)

    def rest(self) -> bytes:
        return self._data.read()


def handler_reading(request_line: bytes, rest: bytes) -> BaseHTTPRequestHandler:
    """A request handler as wsgiserver.py drives it: the request line already read, the
    headers (and whatever follows) left in a `LineRecorder`."""
    handler = object.__new__(BaseHTTPRequestHandler)
    # Undocumented, not even in typeshed: the attribute parse_request parses.
    handler.raw_requestline = request_line  # type: ignore[attr-defined]
    handler.rfile = LineRecorder(rest)  # type: ignore[assignment]
    handler.request_version = handler.default_request_version
    handler.close_connection = True
    return handler


def test_1_parse_request_reads_the_headers_by_readline_up_to_the_blank_line() -> None:
    handler = handler_reading(
        b"GET /metrics?x=1 HTTP/1.1\r\n", b"Host: a\r\nAccept: text/plain\r\n\r\nBODY"
    )

    assert handler.parse_request(), "assumption 1 of wsgiserver.py: parse_request failed"
    recorder: LineRecorder = handler.rfile  # type: ignore[assignment]
    assert (handler.command, handler.path, handler.request_version) == (
        "GET",
        "/metrics?x=1",
        "HTTP/1.1",
    ), "assumption 1 of wsgiserver.py: parse_request no longer parses raw_requestline"
    assert handler.headers["Accept"] == "text/plain"
    assert len(recorder.limits) == 3, (
        "assumption 1 of wsgiserver.py: parse_request no longer reads one header line per "
        f"readline() call ({len(recorder.limits)} calls for 3 lines)"
    )
    assert recorder.rest() == b"BODY", "assumption 1: parse_request read past the headers"


def test_1_parse_request_has_only_rfile_readline_to_read_with() -> None:
    """A reader without ``read``: if parse_request used anything else it would fail here."""
    handler = handler_reading(b"GET / HTTP/1.1\r\n", b"Host: a\r\n\r\n")
    try:
        assert handler.parse_request()
    except AttributeError as exc:
        pytest.fail(f"assumption 1 of wsgiserver.py: parse_request now uses rfile.{exc.name}")


@contextmanager
def served(
    app: Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]], **limits: Any
) -> Iterator[CappedWSGIServer]:
    server = CappedWSGIServer(app, socket.AF_INET, ("127.0.0.1", 0), **limits)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        server.connections.close(2)


def test_3_setup_environ_fills_base_environ_from_server_name_and_port() -> None:
    server = CappedWSGIServer(lambda e, s: [], socket.AF_INET, ("127.0.0.1", 0))
    try:
        port = server.server_address[1]
        assert server.base_environ["SERVER_NAME"] == "127.0.0.1", "assumption 3 of wsgiserver.py"
        assert server.base_environ["SERVER_PORT"] == str(port), "assumption 3 of wsgiserver.py"
    finally:
        server.server_close()


def test_the_app_gets_the_request_and_not_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAPGO_API_KEY", "not-for-requests")
    seen: list[WSGIEnvironment] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ)
        start_response("200 OK", [("Content-Length", "0")])
        return []

    with served(app) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
        connection.request("GET", "/a%20b?x=1", headers={"Accept": "text/plain"})
        assert connection.getresponse().status == 200
        connection.close()
    environ = seen[0]
    assert (environ["PATH_INFO"], environ["QUERY_STRING"]) == ("/a b", "x=1")
    assert environ["HTTP_ACCEPT"] == "text/plain"
    assert environ["SERVER_PORT"] == str(server.server_address[1])
    assert "not-for-requests" not in repr(environ)
    assert "CAPGO_API_KEY" not in environ


def test_4_shutdown_request_frees_the_slot_of_refused_and_finished_connections() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "0")])
        return []

    with served(app, max_connections=1) as server:
        port = server.server_address[1]
        first = socket.create_connection(("127.0.0.1", port))
        wait_until(lambda: server.open_connections == 1)
        refused = socket.create_connection(("127.0.0.1", port))
        refused.settimeout(2)
        assert refused.recv(1) == b"", "a connection past the cap was not closed"
        refused.close()
        assert server.refused == 1
        assert server.open_connections == 1, "assumption 4: a refused connection took a slot"
        first.close()
        assert wait_until(lambda: server.open_connections == 0), (
            "assumption 4 of wsgiserver.py: shutdown_request is no longer called when a "
            "connection's thread ends, so its slot is never freed"
        )


def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
