"""What `capgo_exporter.wsgiserver` assumes about the standard library's HTTP server internals.

Each test checks one numbered assumption of that module's docstring, and fails saying which
one, on which Python, a Python upgrade broke: then read the stdlib's new code, adapt
`wsgiserver`, and only then update the test.

Passed on 3.11.7, 3.12.1 and 3.13.0, and on 3.13.0 running 3.13.18's ``http``, ``wsgiref``
and ``socketserver`` packages (Debian's build of 3.13.18), whose source was read too. Not
read: the newest 3.12 release's source; its changes since 3.12.1 were reviewed through the
pull requests merged into the 3.12 branch.
"""

from __future__ import annotations

import ast
import email.message
import hashlib
import http.client
import inspect
import io
import platform
import socket
import sys
import textwrap
import threading
import time
import tokenize
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest

from capgo_exporter.wsgiserver import CappedWSGIServer

# The stdlib functions `wsgiserver` repeats rather than calls (assumption 2).
REPEATED: dict[str, Callable[..., Any]] = {
    "WSGIRequestHandler.handle": WSGIRequestHandler.handle,
    "HTTPServer.server_bind": HTTPServer.server_bind,
}
# Their fingerprints (`fingerprint`), one set per minor version, each recorded once someone has
# compared that code with what wsgiserver does. A minor version missing here fails the test.
# The code is the same in every release reviewed, so the fingerprints are too:
# 3.11: 3.11.7 (and 3.11.2, reviewed before);
# 3.12: 3.12.1 (no pull request merged into 3.12 since was found to touch either);
# 3.13: 3.13.0 and 3.13.18.
_SAME_SINCE_3_11 = {
    "WSGIRequestHandler.handle": "58eb49141b8c9de5",
    "HTTPServer.server_bind": "82b192020f303e0f",
}
REVIEWED: dict[tuple[int, int], dict[str, str]] = {
    (3, 11): _SAME_SINCE_3_11,
    (3, 12): _SAME_SINCE_3_11,
    (3, 13): _SAME_SINCE_3_11,
}

_STRING_STARTS = {
    getattr(tokenize, n) for n in ("FSTRING_START", "TSTRING_START") if hasattr(tokenize, n)
}
_STRING_ENDS = {
    getattr(tokenize, n) for n in ("FSTRING_END", "TSTRING_END") if hasattr(tokenize, n)
}


def normalised_source(function: Callable[..., Any]) -> str:
    """The function's code, one logical line a line, indented four spaces a level, its tokens
    one space apart: without comments, docstrings, blank lines or layout, so that only a
    change to the code itself changes it.

    Made from `tokenize`'s tokens, which every Python from 3.11 on gives alike once an
    f-string, split into parts since 3.12, is taken whole again; not from ``ast.dump``,
    whose output differs between versions (3.12 added ``type_params``, 3.13 leaves empty
    fields out)."""
    source = textwrap.dedent(inspect.getsource(function))
    lines = source.splitlines(keepends=True)
    docstrings = [
        ((first.lineno, first.col_offset), (first.end_lineno or 0, first.end_col_offset or 0))
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and isinstance(first := node.body[0], ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ]
    logical_lines: list[str] = []
    line: list[str] = []
    depth = 0
    nested_strings = 0
    string_start = (0, 0)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in _STRING_STARTS:
            if nested_strings == 0:
                string_start = token.start
            nested_strings += 1
        elif token.type in _STRING_ENDS:
            nested_strings -= 1
            if nested_strings == 0:
                line.append(_between(lines, string_start, token.end))
        elif nested_strings:
            continue
        elif token.type == tokenize.INDENT:
            depth += 1
        elif token.type == tokenize.DEDENT:
            depth -= 1
        elif token.type == tokenize.NEWLINE:
            if line:
                logical_lines.append("    " * depth + " ".join(line))
            line = []
        elif token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER) and not (
            token.type == tokenize.STRING
            and any(start <= token.start < end for start, end in docstrings)
        ):
            line.append(token.string)
    return "\n".join(logical_lines)


def _between(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    """The source text from one (row, column) position to another, rows counted from 1."""
    if start[0] == end[0]:
        return lines[start[0] - 1][start[1] : end[1]]
    middle = lines[start[0] : end[0] - 1]
    return lines[start[0] - 1][start[1] :] + "".join(middle) + lines[end[0] - 1][: end[1]]


def fingerprint(function: Callable[..., Any]) -> str:
    return hashlib.sha256(normalised_source(function).encode()).hexdigest()[:16]


def _laid_out_one_way(count: int) -> str:
    """A docstring."""
    # A comment.
    if count > 1:
        return f"{count!r:>{count}} items"  # another comment
    return "one"


def _laid_out_another(count: int) -> str:
    if count > 1:
        return f"{count!r:>{count}} items"
    return "one"


def test_the_fingerprint_is_of_the_code_alone_and_the_same_on_every_python() -> None:
    expected = "\n".join(
        [
            "def {name} ( count : int ) -> str :",
            "    if count > 1 :",
            '        return f"{{count!r:>{{count}}}} items"',
            '    return "one"',
        ]
    )
    assert normalised_source(_laid_out_one_way) == expected.format(name="_laid_out_one_way")
    assert normalised_source(_laid_out_another) == expected.format(name="_laid_out_another")


@pytest.mark.parametrize("name", sorted(REPEATED))
def test_2_the_stdlib_code_wsgiserver_repeats_is_the_code_reviewed(name: str) -> None:
    python = platform.python_version()
    minor = sys.version_info[:2]
    found = fingerprint(REPEATED[name])
    where = f"{inspect.getsourcefile(REPEATED[name])}"
    if minor not in REVIEWED:
        pytest.fail(
            f"assumption 2 of capgo_exporter/wsgiserver.py: {name} has not been reviewed for "
            f"Python {minor[0]}.{minor[1]} (running {python}). wsgiserver repeats what it does: "
            f"read it in {where}, compare it with KeepAliveHandler.handle and "
            "CappedWSGIServer.server_bind, carry any new check over, then add "
            f"REVIEWED[{minor}] to this test (this one's fingerprint: {found})"
        )
    assert found == REVIEWED[minor][name], (
        f"assumption 2 of capgo_exporter/wsgiserver.py: {name} changed in Python {python} "
        f"(fingerprint {found}, reviewed for {minor[0]}.{minor[1]}: {REVIEWED[minor][name]}). "
        f"wsgiserver repeats what it does: read it in {where}, compare it with "
        "KeepAliveHandler.handle and CappedWSGIServer.server_bind, carry any new check over, "
        "then record the new fingerprint here"
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


def test_1_parse_request_of_a_request_line_without_a_version() -> None:
    """HTTP/0.9: what parse_request does differs between Pythons, and wsgiserver must cope
    with both. 3.11, 3.12 and 3.13 up to 3.13.9 (run: 3.11.7, 3.12.1, 3.13.0) read a header
    block as for any request and leave an ``http.client.HTTPMessage`` in ``headers``; 3.13.10
    and later (gh-70765; read in 3.13.18) read nothing and leave a plain dict there, which
    ``WSGIRequestHandler.get_environ`` fails on, so wsgiserver answers HTTP/0.9 with an error
    before it gets that far (see the next test)."""
    handler = handler_reading(b"GET /metrics\r\n", b"Host: a\r\n\r\nBODY")
    python = platform.python_version()

    assert handler.parse_request(), f"assumption 1 of wsgiserver.py, Python {python}"
    assert handler.request_version == "HTTP/0.9", (
        f"assumption 1 of wsgiserver.py: in Python {python} parse_request no longer leaves "
        f"request_version 'HTTP/0.9' for a request line without one ({handler.request_version!r})"
    )
    recorder: LineRecorder = handler.rfile  # type: ignore[assignment]
    if isinstance(handler.headers, email.message.Message):
        assert (len(recorder.limits), recorder.rest()) == (2, b"BODY"), (
            f"assumption 1 of wsgiserver.py: in Python {python} parse_request read an HTTP/0.9 "
            "request's headers otherwise than by one readline() a line up to the blank line"
        )
    else:
        assert sys.version_info >= (3, 13), (
            f"assumption 1 of wsgiserver.py: Python {python} reads no headers for HTTP/0.9 "
            "(gh-70765), which 3.11 and 3.12 were not known to do: check that wsgiserver copes"
        )
        assert (handler.headers, recorder.limits) == ({}, []), (
            f"assumption 1 of wsgiserver.py: in Python {python} parse_request neither reads an "
            f"HTTP/0.9 request's headers nor leaves them empty ({handler.headers!r})"
        )


def test_1_an_http_0_9_request_is_answered_with_an_error_and_not_served() -> None:
    called: list[WSGIEnvironment] = []
    failed: list[object] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        called.append(environ)
        start_response("200 OK", [("Content-Length", "0")])
        return []

    def record_failure(request: object, client_address: object) -> None:
        failed.append(sys.exc_info()[1])

    with served(app) as server:
        server.handle_error = record_failure  # type: ignore[method-assign]
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as sock:
            # The blank line ends the header block that Pythons before 3.13.10 wait for.
            sock.sendall(b"GET /metrics\r\n\r\n")
            response = b""
            while chunk := sock.recv(4096):
                response += chunk

    python = platform.python_version()
    assert failed == [], f"assumption 1 of wsgiserver.py: HTTP/0.9 failed in Python {python}"
    assert called == [], f"Python {python}: an HTTP/0.9 request reached the app"
    # A 400 with a status line (HTTP/0.9's bare body could pass for a page), then closed.
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n"), response


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
    release = threading.Event()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        release.wait(5)  # the one slot is serving a request: a newcomer is refused
        start_response("200 OK", [("Content-Length", "0")])
        return []

    with served(app, max_connections=1) as server:
        port = server.server_address[1]
        first = socket.create_connection(("127.0.0.1", port))
        first.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: server.open_connections == 1)
        time.sleep(0.2)  # its headers read: being served
        refused = socket.create_connection(("127.0.0.1", port))
        refused.settimeout(2)
        assert refused.recv(1) == b"", "a connection past the cap was not closed"
        refused.close()
        assert server.refused == 1
        assert server.open_connections == 1, "assumption 4: a refused connection took a slot"
        release.set()
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
