"""Shared helpers for tests that drive the real scheduler against a simulated Capgo."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from capgo_exporter.settings import Settings, load_settings


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for `condition`, polling every 10 ms; fail the test after `seconds`."""
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {seconds:g} s")


def device_walk_settings(page_size: int) -> Settings:
    """Inventory and devices only, on the in-process simulator, with no request budget in the
    way: what a test of the device walk's publishing and readiness needs."""
    return load_settings(
        {
            "api_url": "http://sim",
            "api_key": "demo",
            "collectors": "inventory,devices",
            "device_page_size": page_size,
            "requests_per_minute": 100_000,
        },
        environ={},
        home=None,
    )
