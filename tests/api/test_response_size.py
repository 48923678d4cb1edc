"""Answers larger than the limit are abandoned while they stream in: one failed request, one
log line naming the route and the size, no retry; answers within it are read as before."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from pydantic import SecretStr

from capgo_exporter.api import (
    CapgoHTTP,
    ClientOptions,
    RequestBudget,
    ResponseTooLargeError,
    RetryPolicy,
)
from tests.test_logs import parse_logfmt

from .conftest import BASE, KEY, FakeTime, RecordingObserver
from .test_request_logging import log_lines

__all__ = ["log_lines"]  # a fixture: logging set up, then restored

LIMIT = 64 * 1024


def http(fake_time: FakeTime, observer: RecordingObserver) -> CapgoHTTP:
    options = ClientOptions(api_key=SecretStr(KEY), base_url=BASE, max_response_bytes=LIMIT)
    return CapgoHTTP(
        options,
        budget=RequestBudget(6000, burst=100, clock=fake_time.clock, sleep=fake_time.sleep),
        retry=RetryPolicy(max_retries=3),
        observer=observer,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )


class Endless(httpx.AsyncByteStream):
    """A body that never ends: only a reader that stops can get past it. Counts what it gave."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"data": ["'
        while True:
            chunk = b"x" * 8192
            self.sent += len(chunk)
            yield chunk


async def test_a_body_past_the_limit_is_abandoned_while_it_streams(
    api: respx.MockRouter,
    fake_time: FakeTime,
    observer: RecordingObserver,
    log_lines: io.StringIO,
) -> None:
    body = Endless()
    route = api.get("/device").mock(return_value=httpx.Response(200, stream=body))
    client = http(fake_time, observer)
    with pytest.raises(ResponseTooLargeError) as caught:
        await client.call("GET", "/device")
    assert route.call_count == 1  # not tried again: the same question, the same answer
    assert LIMIT - 8192 < body.sent <= LIMIT + 8192  # stopped at the limit, not at the end
    assert caught.value.size > LIMIT
    assert observer.finished == [("/device", "200")]
    records = [parse_logfmt(line) for line in log_lines.getvalue().splitlines()]
    warnings = [r for r in records if r["level"] == "warn"]
    assert len(warnings) == 1
    assert warnings[0]["route"] == "/device"
    assert int(warnings[0]["size_bytes"]) > LIMIT
    await client.aclose()


async def test_a_declared_length_past_the_limit_is_refused_before_reading(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    body = Endless()
    headers = {"content-length": str(50 * 1024 * 1024)}
    api.get("/app").mock(return_value=httpx.Response(200, stream=body, headers=headers))
    client = http(fake_time, observer)
    with pytest.raises(ResponseTooLargeError, match="52,428,800"):
        await client.call("GET", "/app")
    assert body.sent == 0
    await client.aclose()


async def test_a_small_compressed_body_that_inflates_past_the_limit_is_refused(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    inflating = gzip.compress(json.dumps(["x" * (4 * LIMIT)]).encode())
    assert len(inflating) < LIMIT
    api.get("/app").respond(200, content=inflating, headers={"content-encoding": "gzip"})
    client = http(fake_time, observer)
    with pytest.raises(ResponseTooLargeError):
        await client.call("GET", "/app")
    await client.aclose()


async def test_an_answer_within_the_limit_is_read_whole(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    rows = [{"app_id": f"com.acme.{i}", "name": "x" * 100} for i in range(400)]
    assert len(json.dumps(rows)) < LIMIT
    api.get("/app").respond(200, json=rows)
    client = http(fake_time, observer)
    assert await client.call("GET", "/app") == rows
    await client.aclose()
