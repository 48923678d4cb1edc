"""The API key never leaves the process, whatever Capgo echoes and wherever the exporter writes.

A stub Capgo on loopback answers every route in a way that repeats the key: in an error's
``error``, ``message`` and ``moreInfo``, in response headers, in successful bodies (an older
server listed every key of the account, the caller's among them; a name holding it). Each sink
is then searched for every form of the key: the landing page, ``/readyz``, ``/metrics``, the
logs, ``check``, ``--once``, and an admin command's output and its error.

The daemon's sinks are read first, before the command line registers the key with logging:
what they show is what the errors and values carried, not what the log scrubber caught.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from capgo_exporter import cli
from capgo_exporter.daemon import exporter
from capgo_exporter.server import ExporterApp, ExporterServer
from capgo_exporter.settings import load_settings
from tests.api.test_request_logging import log_lines

__all__ = ["log_lines"]  # a fixture: logging set up, then restored

# Real keys are UUIDs; the suffix makes the percent-encoded form differ from the raw one. A
# new key per run: logging may not have been told about it by an earlier test.
KEY = f"{uuid.uuid4()}/k+y"
FORMS = (KEY, KEY.upper(), quote(KEY, safe=""), quote(KEY, safe="").lower())


def _echo(status: int, code: str) -> tuple[int, dict[str, object], dict[str, str]]:
    body: dict[str, object] = {
        "error": code,
        "message": f"Invalid apikey {KEY}",
        "moreInfo": {"apikey": KEY.upper(), "url": f"/x?apikey={quote(KEY, safe='')}"},
    }
    return status, body, {"x-request-id": KEY, "retry-after": KEY, "x-echo": KEY}


def _answer(path: str) -> tuple[int, object, dict[str, str]]:
    """What the stub answers on each route: successes that carry the key, errors that echo it."""
    if path == "/organization":
        return 200, [{"id": "org-1", "name": f"Acme {KEY}", "created_by": KEY}], {}
    if path == "/app":
        return 200, [{"app_id": "com.acme.app", "name": "Acme", "owner_org": "org-1"}], {}
    if path == "/apikey":
        return 200, [{"id": 1, "name": f"ci {KEY}", "key": KEY, "mode": "all"}], {}
    if path in ("/channel", "/bundle"):
        return 200, [], {}
    if path.endswith("/bundle_usage"):
        return 200, {"labels": [], "datasets": []}, {}
    if path.startswith("/statistics"):
        return _echo(500, "server_error")
    if path == "/organization/members":
        return _echo(400, KEY)  # a code that is the key itself
    if path == "/device":
        return _echo(429, "too_many_requests")
    return _echo(403, "cannot_access_organization")


class _StubCapgo(BaseHTTPRequestHandler):
    def _reply(self) -> None:
        status, body, headers = _answer(urlsplit(self.path).path)
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"content-type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _reply

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def stub_capgo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubCapgo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


async def _daemon_sinks(url: str, state_dir: Path, logs: io.StringIO) -> dict[str, str]:
    """One run of every collector against the stub; what the daemon shows afterwards."""
    settings = load_settings(
        {"api_url": url, "api_key": KEY, "max_retries": 0, "state_dir": str(state_dir)},
        environ={},
        home=None,
    )
    sinks: dict[str, str] = {}
    async with exporter(settings) as built:
        await built.scheduler.run_once()
        statuses = [s for s in built.scheduler.collector_statuses() if s.last_error]
        assert statuses, "the stub's errors never reached the collectors"
        app = ExporterApp(built.holder, built.self_metrics, built.scheduler)
        server = ExporterServer(app, "127.0.0.1", 0)
        server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as scraper:
                for path in ("/", "/readyz", "/metrics"):
                    sinks[path] = (await scraper.get(path)).text
        finally:
            server.shutdown()
    sinks["logs"] = logs.getvalue()
    return sinks


def test_the_key_appears_in_no_sink(
    stub_capgo: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log_lines: io.StringIO,
) -> None:
    # log_lines: debug logs, the key not registered with logging
    sinks = asyncio.run(_daemon_sinks(stub_capgo, tmp_path / "state", log_lines))
    monkeypatch.setenv("CAPGO_API_KEY", KEY)
    flags = ["--capgo.api-url", stub_capgo, "--capgo.max-retries", "0"]
    commands = {
        "check": ["check", *flags],
        "--once": ["--once", *flags],
        "admin apikey list": ["admin", *flags, "apikey", "list", "-o", "json"],
        "admin members list (an error)": ["admin", *flags, "members", "list", "org-1"],
    }
    for name, argv in commands.items():
        cli.main(argv)
        captured = capsys.readouterr()
        sinks[f"{name}: stdout"], sinks[f"{name}: stderr"] = captured.out, captured.err
    leaks = [sink for sink, text in sinks.items() if any(f.lower() in text.lower() for f in FORMS)]
    assert leaks == []
    # The echoes did reach each kind of sink, redacted.
    assert "Invalid apikey [REDACTED]" in sinks["/"]
    assert 'org_name="Acme [REDACTED]"' in sinks["/metrics"]
    assert "Invalid apikey [REDACTED]" in sinks["logs"]
    assert "Invalid apikey [REDACTED]" in sinks["check: stdout"]
    assert "[REDACTED]" in sinks["admin apikey list: stdout"]
    assert "Invalid apikey [REDACTED]" in sinks["admin members list (an error): stderr"]
