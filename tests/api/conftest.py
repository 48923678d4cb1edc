"""A client wired to respx with a fake clock, so retries and budgets run instantly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, CapgoHTTP, ClientOptions, RequestBudget, RetryPolicy

BASE = "https://api.capgo.test"
KEY = "4f1c2a9e-7d3b-4c55-9a0e-2b6d8f3c1e77"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "api"


def fixture(name: str) -> Any:
    """One small JSON fixture per response shape or error case."""
    return json.loads((FIXTURES / name).read_text())


class FakeTime:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingObserver:
    def __init__(self) -> None:
        self.finished: list[tuple[str, str]] = []
        self.retried: list[tuple[str, str]] = []
        self.backoffs: list[tuple[str, float]] = []
        self.circuit: list[bool] = []

    def request_finished(self, endpoint: str, code: str, seconds: float) -> None:
        assert seconds >= 0
        self.finished.append((endpoint, code))

    def request_retried(self, endpoint: str, reason: str) -> None:
        self.retried.append((endpoint, reason))

    def backoff_changed(self, endpoint: str, seconds: float) -> None:
        self.backoffs.append((endpoint, seconds))

    def circuit_changed(self, is_open: bool) -> None:
        self.circuit.append(is_open)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def make_client(
    fake_time: FakeTime,
    observer: RecordingObserver | None = None,
    *,
    requests_per_minute: float = 6000,
    burst: int | None = 100,
    max_retries: int = 3,
) -> CapgoClient:
    budget = RequestBudget(
        requests_per_minute, burst=burst, clock=fake_time.clock, sleep=fake_time.sleep
    )
    http = CapgoHTTP(
        ClientOptions(api_key=SecretStr(KEY), base_url=BASE),
        budget=budget,
        retry=RetryPolicy(max_retries=max_retries),
        observer=observer,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    return CapgoClient(http)


@pytest.fixture
async def capgo(
    api: respx.MockRouter, fake_time: FakeTime, observer: RecordingObserver
) -> AsyncIterator[CapgoClient]:
    client = make_client(fake_time, observer)
    yield client
    await client.aclose()
