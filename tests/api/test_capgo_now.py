"""Capgo as it is now, and as it was: both behaviours of each change are read the same way.

The empty bundle page (400 ``cannot_get_bundle`` before, 200 ``[]`` now), ``native_usage``'s
``activeDevices`` (absent before), ``GET /device``'s ``custom_id`` (ignored before),
``GET /channel/current-bundle`` (404 before) and channel fields the client does not know.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from capgo_exporter.api import CapgoClient, NotFoundError
from capgo_exporter.api.models import Channel, UsageBreakdown

from .conftest import fixture


def _bundle(i: int) -> dict[str, Any]:
    return {"id": i, "name": f"1.0.{i}", "app_id": "com.acme.app"}


def _bundle_server(total: int, *, empty: str) -> Any:
    """A fixed (non-buggy) server: 50 rows a page; past the end, 400 (older) or [] (newer)."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        rows = [_bundle(i) for i in range(50 * page, min(total, 50 * page + 50))]
        if not rows and empty == "400":
            return httpx.Response(400, json=fixture("error_bundle_empty_page.json"))
        return httpx.Response(200, json=rows)

    return handler


@pytest.mark.parametrize("empty", ["400", "200 []"])
@pytest.mark.parametrize("total", [0, 1, 50, 100, 120])
async def test_an_empty_bundle_page_ends_the_walk_either_way(
    api: respx.MockRouter, capgo: CapgoClient, total: int, empty: str
) -> None:
    route = api.get("/bundle").mock(side_effect=_bundle_server(total, empty=empty))
    assert [b.id async for b in capgo.bundles.list("com.acme.app")] == list(range(total))
    assert route.call_count == total // 50 + 1


def _device(i: int, custom_id: str | None) -> dict[str, Any]:
    return {"device_id": f"d{i}", "custom_id": custom_id, "platform": "ios"}


@pytest.mark.parametrize("server_filters", [True, False], ids=["newer", "older"])
async def test_devices_by_custom_id(
    api: respx.MockRouter, capgo: CapgoClient, server_filters: bool
) -> None:
    rows = [_device(1, "user-7"), _device(2, "user-8"), _device(3, None), _device(4, "user-7")]

    def handler(request: httpx.Request) -> httpx.Response:
        wanted = request.url.params.get("custom_id")
        data = [r for r in rows if r["custom_id"] == wanted] if server_filters else rows
        return httpx.Response(200, json={"data": data, "hasMore": False})

    route = api.get("/device").mock(side_effect=handler)
    found = [d.device_id async for d in capgo.devices.list("com.acme.app", custom_id="user-7")]
    assert found == ["d1", "d4"]
    assert route.calls.last.request.url.params["custom_id"] == "user-7"


async def test_current_bundle(api: respx.MockRouter, capgo: CapgoClient) -> None:
    answer = {
        "bundle_name": "1.4.0",
        "bundle_id": 812,
        "min_update_version": "1.0.0",
        "native_packages": [{"name": "@capacitor/camera", "version": "6.0.0"}],
        "disable_auto_update": "major",
        "added_later": True,
    }
    route = api.get("/channel/current-bundle").respond(200, json=answer)
    current = await capgo.channels.current_bundle("com.acme.app", "production")
    assert (current.bundle_name, current.bundle_id) == ("1.4.0", 812)
    assert dict(route.calls.last.request.url.params) == {
        "app_id": "com.acme.app",
        "channel": "production",
    }


async def test_current_bundle_on_an_older_capgo_is_not_found(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    api.get("/channel/current-bundle").respond(
        404, json={"error": "not_found", "message": "Not Found", "moreInfo": {}}
    )
    with pytest.raises(NotFoundError):
        await capgo.channels.current_bundle("com.acme.app", "production")


NATIVE_USAGE = {
    "labels": ["2026-03-14", "2026-03-15"],
    "datasets": [{"label": "iOS 17", "data": [40.0, 41.5], "metaCounts": [40, 42]}],
    "latestVersion": {"name": "iOS 17", "percentage": "41.5"},
}


def test_active_devices_when_capgo_counts_them() -> None:
    newer = UsageBreakdown.model_validate(
        NATIVE_USAGE
        | {
            "activeDevices": {"android": 10, "ios": 8, "electron": 0, "unknown": None, "total": 18},
            "previousPeriodActiveDevices": {"android": 9, "ios": 7, "total": 16},
            "dailyPlatformActive": {"labels": [], "android": [], "ios": [], "total": []},
        }
    )
    assert newer.active_devices is not None
    assert newer.active_devices.by_platform() == {
        "android": 10,
        "ios": 8,
        "electron": 0,
        "unknown": 0,
    }
    assert UsageBreakdown.model_validate(NATIVE_USAGE).active_devices is None


def test_unknown_channel_fields_are_kept_not_refused() -> None:
    row = {
        "id": 3,
        "name": "production",
        "public": True,
        "version": {"id": 9, "name": "1.4.0"},
        "updatePackage": {"strategy": "delta", "nested": [1, 2]},
        "someFutureFlag": None,
    }
    channel = Channel.model_validate(row)
    assert channel.bundle_name == "1.4.0"
    assert channel.model_dump(by_alias=True)["updatePackage"] == row["updatePackage"]
