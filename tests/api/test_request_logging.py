"""--log.level debug: one parseable line per request, with the route template and no key."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest
import respx
import structlog

from capgo_exporter.api import CapgoClient
from capgo_exporter.logs import configure_logging
from tests.test_logs import parse_logfmt

from .conftest import KEY, fixture


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    app_level = logging.getLogger("capgo_exporter").level
    stream = io.StringIO()
    # The key is deliberately not registered as a secret: the line must not carry it at all.
    configure_logging("debug", "logfmt", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("capgo_exporter").setLevel(app_level)
    structlog.reset_defaults()


async def test_each_request_is_logged_with_its_template_status_duration_and_retry(
    api: respx.MockRouter, capgo: CapgoClient, log_lines: io.StringIO
) -> None:
    api.get("/app/com.acme.app").side_effect = [
        httpx.Response(503, json=fixture("error_unknown_500.json")),
        httpx.Response(200, json={"app_id": "com.acme.app", "name": "Acme", "owner_org": "o"}),
    ]
    await capgo.apps.get("com.acme.app")
    text = log_lines.getvalue()
    assert KEY not in text
    records = [parse_logfmt(line) for line in text.splitlines()]
    requests = [r for r in records if r["msg"] == "capgo request"]
    assert [(r["method"], r["route"], r["status"], r["retry"]) for r in requests] == [
        ("GET", "/app/{app_id}", "503", "0"),
        ("GET", "/app/{app_id}", "200", "1"),
    ]
    assert all(r["level"] == "debug" for r in requests)
    assert all(float(r["duration_ms"]) >= 0 for r in requests)
    assert "com.acme.app" not in " ".join(r["route"] for r in requests)
