"""A million devices per app: cheap to build, cheap to page from the middle."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from capgo_exporter.sim import SimConfig, Simulator
from tests.sim.conftest import APP, NOW


def _rss_mb() -> float:
    """Current (not peak) resident set size, so earlier tests do not hide the increase."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("needs /proc (Linux)")


@pytest.mark.serial  # asserts how long something takes
@pytest.mark.slow
def test_million_device_app_pages_from_the_middle() -> None:
    before = _rss_mb()
    started = time.perf_counter()
    sim = Simulator(SimConfig(orgs=1, apps_per_org=1, devices_per_app=1_000_000), clock=lambda: NOW)
    store = sim.world.devices[APP]
    middle = store.device_id(500_000)
    with httpx.Client(
        transport=sim.sync_transport(),
        base_url="https://api.capgo.app",
        headers={"capgkey": "demo"},
    ) as c:
        page = c.get(
            "/device", params={"app_id": APP, "limit": 999, "cursor": f"x|{middle}"}
        ).json()
        for _ in range(4):
            page = c.get(
                "/device", params={"app_id": APP, "limit": 999, "cursor": page["nextCursor"]}
            ).json()
        last = c.get(
            "/device", params={"app_id": APP, "cursor": f"x|{store.device_id(999_998)}"}
        ).json()
    elapsed = time.perf_counter() - started
    assert page["data"][0]["device_id"].startswith(f"{500_001 + 4 * 999:08x}")
    assert [d["device_id"] for d in last["data"]] == [store.device_id(999_999)]
    assert last["hasMore"] is False
    assert elapsed < 5, elapsed
    assert _rss_mb() - before < 50


@pytest.mark.slow
def test_million_device_updated_at_filter_builds_a_bounded_index() -> None:
    before = _rss_mb()
    sim = Simulator(SimConfig(orgs=1, apps_per_org=1, devices_per_app=1_000_000), clock=lambda: NOW)
    with httpx.Client(
        transport=sim.sync_transport(),
        base_url="https://api.capgo.app",
        headers={"capgkey": "demo"},
    ) as c:
        recent = c.get(
            "/device", params={"app_id": APP, "limit": 999, "updated_at": "2026-03-15T11:00:00Z"}
        ).json()
        sim.touch_devices(APP, 10)
        touched = c.get(
            "/device", params={"app_id": APP, "updated_at": "2026-03-15T11:59:59.999Z"}
        ).json()
    assert 500 < len(recent["data"]) < 999  # about an hour's worth of a 45-day spread
    assert len(touched["data"]) == 10
    assert _rss_mb() - before < 300
