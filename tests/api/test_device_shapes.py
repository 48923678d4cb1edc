"""A device page that is not the shape the route documents fails the walk; only the exact
pre-2025-12 list (at most 50 device objects, from a server that never answered cursor pages)
is still read as that list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from capgo_exporter.api import CapgoClient, CapgoResponseError

from .test_paging import _device


async def walk(capgo: CapgoClient, typed: bool) -> list[str]:
    if typed:
        return [r.device_id async for page in capgo.devices.rows("com.acme.app") for r in page]
    return [r["device_id"] async for page in capgo.devices.raw_pages("com.acme.app") for r in page]


@pytest.mark.parametrize("typed", [True, False])
async def test_an_array_after_cursor_pages_is_a_changed_shape(
    api: respx.MockRouter, capgo: CapgoClient, typed: bool
) -> None:
    """Seen in a hostile-world trial: a Capgo that answered cursor pages, then a JSON array of
    devices."""
    route = api.get("/device")
    route.side_effect = [
        httpx.Response(200, json={"data": [_device(1)], "hasMore": False}),
        httpx.Response(200, json=[_device(1), _device(2)]),
    ]
    assert await walk(capgo, typed) == ["00000001"]
    with pytest.raises(CapgoResponseError, match="bare JSON array after answering cursor"):
        await walk(capgo, typed)


@pytest.mark.parametrize(
    "body",
    [
        [1, 2, 3],
        [{"platform": "ios"}],
        [_device(1), {"device_id": 5}],
        [_device(1), None],
        [_device(i) for i in range(51)],  # longer than the old list's pages
    ],
)
@pytest.mark.parametrize("typed", [True, False])
async def test_an_array_that_is_not_the_old_list_fails_the_walk(
    api: respx.MockRouter, capgo: CapgoClient, body: Any, typed: bool
) -> None:
    api.get("/device").respond(200, json=body)
    with pytest.raises(CapgoResponseError, match="changed shape"):
        await walk(capgo, typed)


async def test_a_later_page_of_the_old_list_with_a_row_that_is_no_device_fails(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page", "0") == "0":
            return httpx.Response(200, json=[_device(i) for i in range(50)])
        return httpx.Response(200, json=[_device(50), {"oops": True}])

    api.get("/device").mock(side_effect=handler)
    with pytest.raises(CapgoResponseError, match="changed shape"):
        await walk(capgo, typed=True)
