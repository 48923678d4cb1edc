"""Every paging style, against respx servers that answer like the real (buggy) backend and
like a fixed one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from capgo_exporter.api import BadRequestError, CapgoClient, CapgoResponseError

from .conftest import fixture


def _channel(i: int) -> dict[str, Any]:
    return {"id": i, "name": f"ch{i}", "app_id": "com.acme.app", "public": False}


def _bundle(i: int) -> dict[str, Any]:
    return {"id": i, "name": f"1.0.{i}", "app_id": "com.acme.app"}


def _page_window(page: int, total: int, *, buggy: bool) -> range:
    """Rows a server returns for ``?page=``: the real one concatenates strings.

    Capgo's public/channel/get.ts computes ``.range(page*50, (page+1)*50-1)`` on the query
    string's ``page``, so ``"1" + 1`` is ``"11"``.
    """
    start = 50 * page
    end = 50 * (page + 1) if not buggy or page == 0 else int(f"{page}1") * 50
    end = min(end, start + 1000, total)  # PostgREST max_rows
    return range(start, max(start, end))


def _paged_server(
    make: Any, total: int, *, buggy: bool, empty_error: dict[str, Any] | None = None
) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        rows = [make(i) for i in _page_window(page, total, buggy=buggy)]
        if not rows and empty_error is not None:
            return httpx.Response(400, json=empty_error)
        return httpx.Response(200, json=rows)

    return handler


@pytest.mark.parametrize("buggy", [True, False], ids=["real-buggy-server", "fixed-server"])
@pytest.mark.parametrize("total", [0, 1, 49, 50, 51, 120, 600, 2345])
async def test_channels_every_one_exactly_once(
    api: respx.MockRouter, capgo: CapgoClient, total: int, buggy: bool
) -> None:
    route = api.get("/channel").mock(side_effect=_paged_server(_channel, total, buggy=buggy))
    ids = [c.id async for c in capgo.channels.list("com.acme.app")]
    assert ids == list(range(total))
    # Fewer than 50 rows: one request, the minimum the API allows.
    if total < 50:
        assert route.call_count == 1
    if not buggy:
        assert route.call_count == total // 50 + 1


async def test_buggy_server_oversized_windows_are_skipped_not_refetched(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    route = api.get("/channel").mock(side_effect=_paged_server(_channel, 2345, buggy=True))
    [_ async for _ in capgo.channels.list("com.acme.app")]
    pages = [int(call.request.url.params["page"]) for call in route.calls]
    # page 1 covers rows 50..549, so the next ask starts at row 550 (page 11), and so on.
    assert pages[:3] == [0, 1, 11]
    assert route.call_count <= 6


@pytest.mark.parametrize("buggy", [True, False])
@pytest.mark.parametrize("total", [1, 50, 77, 1200])
async def test_bundles_end_on_the_empty_page_400(
    api: respx.MockRouter, capgo: CapgoClient, total: int, buggy: bool
) -> None:
    api.get("/bundle").mock(
        side_effect=_paged_server(
            _bundle, total, buggy=buggy, empty_error=fixture("error_bundle_empty_page.json")
        )
    )
    ids = [b.id async for b in capgo.bundles.list("com.acme.app")]
    assert ids == list(range(total))


async def test_app_without_bundles_is_empty_not_an_error(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    api.get("/bundle").respond(400, json=fixture("error_bundle_empty_page.json"))
    assert [b async for b in capgo.bundles.list("com.acme.app")] == []


async def test_bundles_without_access_is_an_error(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    # Same code as the empty page; only the message tells "no access" apart.
    api.get("/bundle").respond(400, json=fixture("error_bundle_no_access.json"))
    with pytest.raises(BadRequestError, match="You can't access this app"):
        [b async for b in capgo.bundles.list("com.acme.app")]


async def test_deleted_bundles_are_skipped(api: respx.MockRouter, capgo: CapgoClient) -> None:
    api.get("/bundle").respond(json=[_bundle(1), {**_bundle(2), "deleted": True}])
    assert [b.id async for b in capgo.bundles.list("com.acme.app")] == [1]


def _device(i: int) -> dict[str, Any]:
    return {"device_id": f"{i:08x}", "updated_at": "2026-11-01T00:00:00Z", "platform": "ios"}


def _cursor_server(total: int) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        cursor = request.url.params.get("cursor")
        start = int(cursor.split("|")[1], 16) + 1 if cursor else 0
        rows = [_device(i) for i in range(start, min(total, start + limit))]
        has_more = start + limit < total
        body: dict[str, Any] = {"data": rows, "hasMore": has_more}
        if has_more:
            body["nextCursor"] = f"2026-11-01 00:00:00|{rows[-1]['device_id']}"
        return httpx.Response(200, json=body)

    return handler


@pytest.mark.parametrize(("total", "page_size", "requests"), [(0, 999, 1), (999, 999, 1),
                                                              (1000, 999, 2), (5000, 999, 6),
                                                              (120, 50, 3)])  # fmt: skip
async def test_device_cursor_walk(
    api: respx.MockRouter, capgo: CapgoClient, total: int, page_size: int, requests: int
) -> None:
    route = api.get("/device").mock(side_effect=_cursor_server(total))
    ids = [d.device_id async for d in capgo.devices.list("com.acme.app", page_size=page_size)]
    assert ids == [f"{i:08x}" for i in range(total)]
    assert route.call_count == requests
    first = route.calls[0].request.url.params
    assert "cursor" not in first
    assert first["limit"] == str(page_size)


async def test_device_cursor_that_does_not_advance_stops_the_walk(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    api.get("/device").respond(json={"data": [_device(1)], "hasMore": True, "nextCursor": "same"})
    with pytest.raises(CapgoResponseError, match="same device cursor"):
        [d async for d in capgo.devices.list("com.acme.app")]


async def test_legacy_bare_array_device_list_is_walked_by_page(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        return httpx.Response(
            200, json=[_device(i) for i in range(page * 50, min(120, page * 50 + 50))]
        )

    route = api.get("/device").mock(side_effect=handler)
    pages = [p async for p in capgo.devices.pages("com.acme.app")]
    devices = [d.device_id for p in pages for d in p]
    assert devices == [f"{i:08x}" for i in range(120)]
    assert route.call_count == 3


async def test_legacy_device_list_applies_updated_after_itself(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    rows = [
        {"device_id": "old", "updated_at": "2026-11-01T00:00:00.000Z"},
        {"device_id": "new", "updated_at": "2026-11-20T08:00:00.000Z"},
    ]
    api.get("/device").respond(json=rows)
    since = datetime(2026, 11, 10, tzinfo=UTC)
    ids = [d.device_id async for d in capgo.devices.list("com.acme.app", updated_after=since)]
    assert ids == ["new"]


async def test_raw_pages_drop_rows_without_a_device_id(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    api.get("/device").respond(
        json={
            "data": [{"device_id": "a"}, {"platform": "ios"}, None, {"device_id": 5}],
            "hasMore": False,
        }
    )
    pages = [page async for page in capgo.devices.raw_pages("com.acme.app")]
    assert pages == [[{"device_id": "a"}]]


async def test_device_answer_without_data_is_a_response_error(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    api.get("/device").respond(json={"hasMore": False})
    with pytest.raises(CapgoResponseError, match="without a data list"):
        [page async for page in capgo.devices.raw_pages("com.acme.app")]


async def test_organizations_page_past_the_first_through_a_json_body(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    orgs = [{"id": f"org-{i}", "name": f"Org {i}"} for i in range(60)]

    def handler(request: httpx.Request) -> httpx.Response:
        # A query-string page is a 400 on the real server; only a JSON number works.
        if "page" in request.url.params:
            return httpx.Response(400, json={"error": "invalid_body", "message": "bad"})
        page = json.loads(request.content)["page"] if request.content else 0
        return httpx.Response(200, json=orgs[page * 50 : page * 50 + 50])

    route = api.get("/organization").mock(side_effect=handler)
    names = [o.id async for o in capgo.organizations.list()]
    assert names == [o["id"] for o in orgs]
    assert route.call_count == 2


async def test_apps_page_with_limit(api: respx.MockRouter, capgo: CapgoClient) -> None:
    apps = [{"app_id": f"com.acme.app{i}"} for i in range(7)]

    def handler(request: httpx.Request) -> httpx.Response:
        page, limit = int(request.url.params["page"]), int(request.url.params["limit"])
        return httpx.Response(200, json=apps[page * limit : (page + 1) * limit])

    api.get("/app").mock(side_effect=handler)
    listed = [a.app_id async for a in capgo.apps.list(page_size=3)]
    assert listed == [a["app_id"] for a in apps]


async def test_typed_rows_keep_what_the_index_needs_and_drop_the_rest(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    """The collector's path (msgspec): rows without a device_id, or not objects at all, are
    dropped without failing the page; odd values are kept for the index to judge."""
    api.get("/device").respond(
        json={
            "data": [
                {"device_id": "a", "platform": "ios", "is_prod": "yes", "os_version": "18"},
                {"platform": "ios"},
                None,
                7,
                {"device_id": 5},
            ],
            "hasMore": False,
        }
    )
    for _walk in ("first", "again, the decoder knowing the page's values"):
        pages = [page async for page in capgo.devices.rows("com.acme.app")]
        assert [[(r.device_id, r.platform, r.is_prod) for r in page] for page in pages] == [
            [("a", "ios", "yes")]
        ]


@pytest.mark.parametrize(
    "body", [{"hasMore": False}, {"data": {"device_id": "a"}}, {"data": None}, "a string"]
)
async def test_typed_device_answer_of_another_shape_is_a_response_error(
    api: respx.MockRouter, capgo: CapgoClient, body: Any
) -> None:
    api.get("/device").respond(json=body)
    with pytest.raises(CapgoResponseError, match="unexpected shape"):
        [page async for page in capgo.devices.rows("com.acme.app")]


async def test_typed_legacy_bare_array_is_walked_by_page(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        return httpx.Response(
            200, json=[_device(i) for i in range(page * 50, min(120, page * 50 + 50))]
        )

    api.get("/device").mock(side_effect=handler)
    ids = [row.device_id async for page in capgo.devices.rows("com.acme.app") for row in page]
    assert ids == [f"{i:08x}" for i in range(120)]
