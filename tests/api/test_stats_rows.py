"""POST /private/stats: the body sent, strict rows, and exact counts by splitting full answers."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from capgo_exporter.api import CapgoClient, CapgoResponseError
from capgo_exporter.api.stats_rows import ROUTE
from tests.clock import PINNED_NOW

APP = "com.acme.shop"
START, END = PINNED_NOW - timedelta(hours=1), PINNED_NOW
START_MS = int(START.timestamp()) * 1000
END_MS = int(END.timestamp()) * 1000


def _row(at_ms: int, action: str = "set") -> dict[str, Any]:
    return {
        "app_id": APP,
        "device_id": f"d-{at_ms}",
        "action": action,
        "version_name": "1.4.0",
        "metadata": None,
        "created_at": "2026-03-15T11:00:00.000Z",
        "added_later": 1,
    }


async def test_sends_the_range_in_epoch_ms_and_reads_the_rows(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    route = api.post(ROUTE).mock(return_value=httpx.Response(200, json=[_row(1)]))
    rows = await capgo.stats_rows.rows(APP, START, END, actions=("set", "set_fail"), limit=10)
    assert json.loads(route.calls.last.request.content) == {
        "appId": APP,
        "rangeStart": START_MS,
        "rangeEnd": END_MS,
        "actions": ["set", "set_fail"],
        "limit": 10,
    }
    assert [(r.device_id, r.action, r.version_name) for r in rows] == [("d-1", "set", "1.4.0")]


@pytest.mark.parametrize(
    "payload", [{"rows": []}, [{"action": "set"}], [{"device_id": 7, "action": "set"}]]
)
async def test_a_changed_shape_is_a_response_error(
    api: respx.MockRouter, capgo: CapgoClient, payload: Any
) -> None:
    api.post(ROUTE).mock(return_value=httpx.Response(200, json=payload))
    with pytest.raises(CapgoResponseError, match="private route may have changed"):
        await capgo.stats_rows.rows(APP, START, END, actions=("set",))


async def test_a_full_answer_is_split_until_every_part_is_under_the_limit(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    # Capgo holds 7 rows over the hour; it answers at most `limit` of a range.
    times = [START_MS + i * 500_000 for i in range(7)]

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        inside = [t for t in times if body["rangeStart"] <= t < body["rangeEnd"]]
        return httpx.Response(200, json=[_row(t) for t in inside[: body["limit"]]])

    route = api.post(ROUTE).mock(side_effect=answer)
    rows = await capgo.stats_rows.complete(APP, START, END, actions=("set",), limit=3)
    assert sorted(r.device_id for r in rows) == sorted(f"d-{t}" for t in times)
    # The hour (7 rows: full), its halves (4 and 3: both full, exactly 3 may be cut too), and
    # the four quarters (2, 2, 2 and 1).
    assert route.call_count == 7
    route.reset()
    await capgo.stats_rows.complete(APP, START, END, actions=("set",), limit=8)
    assert route.call_count == 1
