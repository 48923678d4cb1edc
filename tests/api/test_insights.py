"""POST /private/stats/insights: request body, strict shape validation and degradation."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from capgo_exporter.api import BadRequestError, CapgoClient, CapgoResponseError, NotFoundError
from capgo_exporter.api.errors import is_permission_denied
from capgo_exporter.api.insights import ROUTE

APP = "com.acme.shop"


def _answer(days: int = 7) -> dict[str, Any]:
    return {
        "summary": {"total": 12, "device_count": 9, "action_count": 2},
        "actions": [
            {
                "action": "app_crash",
                "total": 10,
                "device_count": 7,
                "version_count": 2,
                "first_seen": "2026-03-09T00:00:00.000Z",
                "last_seen": "2026-03-15T00:00:00.000Z",
                "latest_version_name": "1.4.0",
                "latest_device_id": "abc",
            },
            {"action": "download_fail", "total": 2, "device_count": 2, "version_count": 1},
        ],
        "daily": [{"date": "2026-03-15", "action": "app_crash", "total": 10}],
        "versions": [
            {"action": "app_crash", "version_name": "1.4.0", "total": 8, "device_count": 5},
            {"action": "app_crash", "version_name": "1.3.9", "total": 2, "device_count": 2},
            {"action": "download_fail", "version_name": "1.4.0", "total": 2, "device_count": 2},
        ],
        "devices": [],
        "period": {
            "requested_days": days,
            "start": "2026-03-09T00:00:00.000Z",
            "end": "2026-03-16T00:00:00.000Z",
            "labels": [],
            "added_later": True,
        },
        "something_new": {"ignored": 1},
    }


async def test_sends_app_days_and_actions_and_reads_every_figure(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    route = api.post(ROUTE).mock(return_value=httpx.Response(200, json=_answer(30)))
    insight = await capgo.insights.app(APP, days=30, actions=["set"])
    assert json.loads(route.calls.last.request.content) == {
        "appId": APP,
        "days": 30,
        "actions": ["set"],
    }
    assert insight.summary.total == 12
    first = insight.versions[0]
    assert (first.action, first.version_name, first.total, first.device_count) == (
        "app_crash",
        "1.4.0",
        8,
        5,
    )
    assert insight.actions[1].latest_version_name is None


async def test_no_actions_asks_for_the_server_default(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    route = api.post(ROUTE).mock(return_value=httpx.Response(200, json=_answer()))
    await capgo.insights.app(APP)
    assert json.loads(route.calls.last.request.content) == {"appId": APP, "days": 7}


@pytest.mark.parametrize("days", [0, 2, 14, 31, -7])
async def test_days_outside_1_3_7_30_fail_before_any_request(
    api: respx.MockRouter, capgo: CapgoClient, days: int
) -> None:
    route = api.post(ROUTE).mock(return_value=httpx.Response(200, json=_answer()))
    with pytest.raises(ValueError, match="1, 3, 7, 30"):
        await capgo.insights.app(APP, days=days)
    assert not route.called


async def test_route_gone_is_not_found(api: respx.MockRouter, capgo: CapgoClient) -> None:
    api.post(ROUTE).mock(
        return_value=httpx.Response(404, json={"error": "not_found", "message": "Not found"})
    )
    with pytest.raises(NotFoundError):
        await capgo.insights.app(APP)


async def test_key_without_read_logs_is_a_permission_denial(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    denied = {"error": "app_access_denied", "message": "You can't access this app"}
    api.post(ROUTE).mock(return_value=httpx.Response(400, json=denied))
    with pytest.raises(BadRequestError) as caught:
        await capgo.insights.app(APP)
    assert caught.value.code == "app_access_denied"
    assert is_permission_denied(caught.value)


def _without(path: tuple[str | int, ...]) -> dict[str, Any]:
    answer = _answer()
    target: Any = answer
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return answer


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    answer = _answer()
    target: Any = answer
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return answer


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (_without(("versions",)), "versions"),
        (_without(("versions", 0, "device_count")), "versions.0.device_count"),
        (_with(("versions", 0, "total"), "8"), "versions.0.total"),  # no string coercion
        (_with(("versions", 0, "total"), 8.5), "versions.0.total"),
        (_with(("actions",), {"app_crash": 10}), "actions"),
        (_with(("summary", "total"), None), "summary.total"),
        (_without(("period",)), "period"),
        ([], "body"),
    ],
)
async def test_a_changed_shape_is_reported_not_turned_into_numbers(
    api: respx.MockRouter, capgo: CapgoClient, body: Any, where: str
) -> None:
    api.post(ROUTE).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(CapgoResponseError, match="unexpected shape") as caught:
        await capgo.insights.app(APP)
    assert where in str(caught.value)


async def test_an_answer_for_another_window_is_reported(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    api.post(ROUTE).mock(return_value=httpx.Response(200, json=_answer(days=7)))
    with pytest.raises(CapgoResponseError, match="7-day window for a 30-day question"):
        await capgo.insights.app(APP, days=30)
