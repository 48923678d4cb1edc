"""A small simulator on a fixed clock, and clients on its in-process transports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import PINNED_NOW

NOW = PINNED_NOW
APP = "com.acme.shop"  # first app of org 0 (paying)
UNPAID_APP = "com.globex.shop"  # first app of org 1 (unpaid)
KEYS = {
    "demo": "org_super_admin",
    "admin-key": "org_admin",
    "member-key": "org_member",
    "reader-key": "app_reader",
    "dev-key": "app_developer",
    "globex-key": "org_super_admin",
}


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_sim(clock: FakeClock, **overrides: object) -> Simulator:
    settings: dict[str, object] = {
        "seed": 1,
        "orgs": 2,
        "apps_per_org": 2,
        "devices_per_app": 300,
        "keys": KEYS,
        "key_orgs": {"globex-key": frozenset({1})},
        "unpaid_orgs": frozenset({1}),
    }
    settings.update(overrides)
    return Simulator(SimConfig(**settings), clock=clock)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sim(clock: FakeClock) -> Simulator:
    return make_sim(clock)


def client_for(sim: Simulator, key: str | None = "demo") -> httpx.Client:
    headers = {"capgkey": key} if key else {}
    return httpx.Client(
        transport=sim.sync_transport(), base_url="https://api.capgo.app", headers=headers
    )


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with client_for(sim) as c:
        yield c


@pytest.fixture
async def aclient(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=sim.transport(), base_url="https://api.capgo.app", headers={"capgkey": "demo"}
    ) as c:
        yield c
