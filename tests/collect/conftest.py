"""Collectors against the in-process simulator, with settings built like the daemon's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.collect.base import CollectContext, Collector, CollectResult, Discovery
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.collect.inventory import InventoryCollector
from capgo_exporter.collect.samples import Samples
from capgo_exporter.metrics import MetricSpec
from capgo_exporter.settings import Settings, load_settings
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import pinned_now

KEY = "demo"


def make_settings(**overrides: Any) -> Settings:
    return load_settings(overrides, environ={}, home=None)


def sim_client(
    sim: Simulator, requests_per_minute: float = 100_000, circuit_failures_to_open: int = 6
) -> CapgoClient:
    options = ClientOptions(
        api_key=SecretStr(KEY),
        base_url="http://sim",
        requests_per_minute=requests_per_minute,
        max_retries=0,
        circuit_failures_to_open=circuit_failures_to_open,
    )
    return CapgoClient.create(options, transport=sim.transport())


@pytest.fixture
def sim() -> Simulator:
    return Simulator(
        SimConfig(
            seed=7, orgs=2, apps_per_org=2, devices_per_app=600, keys={KEY: "org_super_admin"}
        ),
        clock=pinned_now,
    )


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[CapgoClient]:
    capgo = sim_client(sim)
    yield capgo
    await capgo.aclose()


def context(
    client: CapgoClient,
    settings: Settings,
    discovery: Discovery | None,
    now: Callable[[], datetime] | None = None,
) -> CollectContext:
    # The simulators of these tests run at the pinned instant; so do the collectors.
    return CollectContext(
        client=client, settings=settings, discovery=discovery, now=now or pinned_now
    )


async def discover(client: CapgoClient, settings: Settings) -> Discovery:
    result = await InventoryCollector().collect(context(client, settings, None))
    assert result.discovery is not None
    return result.discovery


async def run(
    collector: Collector, client: CapgoClient, settings: Settings, discovery: Discovery | None
) -> CollectResult:
    return await collector.collect(context(client, settings, discovery))


def values(samples: Samples, spec: MetricSpec) -> dict[tuple[str, ...], float]:
    return dict(samples.get(spec, {}))


@pytest.fixture
def index() -> Iterator[DeviceIndex]:
    """An empty device index in memory."""
    idx = DeviceIndex()
    yield idx
    idx.close()
