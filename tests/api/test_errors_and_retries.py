"""Error mapping, retries and the protections around authentication failures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from capgo_exporter.api import (
    AuthenticationError,
    BadRequestError,
    CapgoAPIError,
    CapgoClient,
    CapgoResponseError,
    CapgoTimeoutError,
    CapgoTransportError,
    ConflictError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from capgo_exporter.api.retry import retry_after_seconds

from .conftest import KEY, FakeTime, RecordingObserver, fixture, make_client

DEVICE_PAGE = {"data": [], "hasMore": False}


@pytest.mark.parametrize(
    ("status", "name", "error_class", "code"),
    [
        (400, "error_cannot_access_app.json", BadRequestError, "cannot_access_app"),
        (401, "error_invalid_apikey.json", AuthenticationError, "invalid_apikey"),
        (402, "error_subscription_required.json", PaymentRequiredError, "subscription_required"),
        (403, "error_invalid_org_id_403.json", PermissionDeniedError, "invalid_org_id"),
        (404, "error_device_not_found.json", NotFoundError, "device_not_found"),
        (404, "error_not_found_no_moreinfo.json", NotFoundError, "not_found"),
        (409, "error_app_id_already_exists.json", ConflictError, "app_id_already_exists"),
        (400, "error_legacy_ko.json", BadRequestError, "cannot_get_bundle"),
    ],
)
async def test_error_bodies_become_typed_errors(
    api: respx.MockRouter,
    capgo: CapgoClient,
    status: int,
    name: str,
    error_class: type[CapgoAPIError],
    code: str,
) -> None:
    api.get("/device").respond(status, json=fixture(name), headers={"x-request-id": "req-42"})
    with pytest.raises(error_class) as caught:
        await capgo.devices.get("com.acme.app", "d1")
    error = caught.value
    assert (error.status, error.code, error.request_id) == (status, code, "req-42")
    assert error.endpoint == "/device"
    assert str(error).startswith(f"{status} {code}")
    assert "req-42" in str(error)
    assert KEY not in str(error)


async def test_more_info_is_kept(api: respx.MockRouter, capgo: CapgoClient) -> None:
    api.get("/device").respond(400, json=fixture("error_cannot_access_app.json"))
    with pytest.raises(BadRequestError) as caught:
        await capgo.devices.get("com.acme.app", "d1")
    assert caught.value.more_info == {"app_id": "com.acme.app"}


async def test_html_error_page_still_gives_a_typed_error(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    api.delete("/channel").respond(502, text="<html><body>Bad gateway</body></html>")
    with pytest.raises(ServerError) as caught:
        await capgo.channels.delete("com.acme.app", "beta")
    assert caught.value.code == "http_502"


async def test_429_waits_retry_after_then_succeeds(
    api: respx.MockRouter, capgo: CapgoClient, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    route = api.get("/device")
    route.side_effect = [
        httpx.Response(429, json=fixture("error_429_apikey.json"), headers={"retry-after": "7"}),
        httpx.Response(200, json=DEVICE_PAGE),
    ]
    started = fake_time.now
    pages = [page async for page in capgo.devices.pages("com.acme.app")]
    assert len(pages) == 1
    assert route.call_count == 2
    assert fake_time.now - started == pytest.approx(7, abs=0.1)
    assert observer.retried == [("/device", "rate_limited")]
    assert observer.finished == [("/device", "429"), ("/device", "200")]


async def test_a_429_pauses_the_shared_budget(
    api: respx.MockRouter, capgo: CapgoClient, fake_time: FakeTime
) -> None:
    # The limit is per key: the pause goes to the budget every caller draws from.
    paused: list[float] = []
    budget = capgo.http.budget
    real_pause = budget.pause

    def recording_pause(seconds: float) -> None:
        paused.append(seconds)
        real_pause(seconds)

    budget.pause = recording_pause  # type: ignore[method-assign]
    api.get("/device").side_effect = [
        httpx.Response(429, json=fixture("error_429_apikey.json"), headers={"retry-after": "7"}),
        httpx.Response(200, json=DEVICE_PAGE),
    ]
    [_ async for _ in capgo.devices.pages("com.acme.app")]
    assert paused == [7]


async def test_429_retry_after_from_body_when_no_header(
    api: respx.MockRouter, capgo: CapgoClient, fake_time: FakeTime
) -> None:
    api.get("/device").side_effect = [
        httpx.Response(429, json=fixture("error_429_apikey.json")),
        httpx.Response(200, json=DEVICE_PAGE),
    ]
    started = fake_time.now
    [_ async for _ in capgo.devices.pages("com.acme.app")]
    assert fake_time.now - started == pytest.approx(7, abs=0.1)


async def test_failed_auth_lockout_is_not_slept_through(
    api: respx.MockRouter, capgo: CapgoClient, fake_time: FakeTime
) -> None:
    route = api.get("/device").respond(
        429, json=fixture("error_429_lockout.json"), headers={"retry-after": "900"}
    )
    with pytest.raises(RateLimitedError) as caught:
        await capgo.devices.get("com.acme.app", "d1")
    assert caught.value.lockout
    assert caught.value.retry_after == 900
    assert route.call_count == 1
    assert fake_time.sleeps == []


async def test_429_gives_up_after_max_retries(api: respx.MockRouter, capgo: CapgoClient) -> None:
    route = api.get("/device").respond(
        429, json=fixture("error_429_apikey.json"), headers={"retry-after": "1"}
    )
    with pytest.raises(RateLimitedError):
        await capgo.devices.get("com.acme.app", "d1")
    assert route.call_count == 4  # 1 + max_retries


async def test_5xx_on_get_is_retried_with_growing_backoff(
    api: respx.MockRouter, capgo: CapgoClient, fake_time: FakeTime, observer: RecordingObserver
) -> None:
    route = api.get("/device")
    route.side_effect = [
        httpx.Response(503, json=fixture("error_unknown_500.json")),
        httpx.Response(500, json=fixture("error_unknown_500.json")),
        httpx.Response(200, json=DEVICE_PAGE),
    ]
    [_ async for _ in capgo.devices.pages("com.acme.app")]
    assert route.call_count == 3
    assert len(fake_time.sleeps) == 2
    # Exponential with jitter: attempt 0 waits within [0.25, 0.5], attempt 1 within [0.5, 1].
    assert 0.25 <= fake_time.sleeps[0] <= 0.5
    assert 0.5 <= fake_time.sleeps[1] <= 1.0
    assert observer.retried == [("/device", "server_error")] * 2


async def test_5xx_gives_up_with_server_error(
    api: respx.MockRouter, capgo: CapgoClient, fake_time: FakeTime
) -> None:
    route = api.get("/device").respond(500, json=fixture("error_unknown_500.json"))
    with pytest.raises(ServerError):
        await capgo.devices.get("com.acme.app", "d1")
    assert route.call_count == 4
    assert max(fake_time.sleeps) <= 30


async def test_5xx_on_a_write_is_not_retried(api: respx.MockRouter, capgo: CapgoClient) -> None:
    # The write may have happened: regenerating a key twice would lose the first new key.
    route = api.put("/apikey/10").respond(500, json=fixture("error_unknown_500.json"))
    with pytest.raises(ServerError):
        await capgo.apikeys.update(10, regenerate=True)
    assert route.call_count == 1


async def test_read_timeout_on_get_is_retried(
    api: respx.MockRouter, capgo: CapgoClient, observer: RecordingObserver
) -> None:
    route = api.get("/device")
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json=DEVICE_PAGE)]
    [_ async for _ in capgo.devices.pages("com.acme.app")]
    assert route.call_count == 2
    assert observer.finished[0] == ("/device", "timeout")
    assert observer.retried == [("/device", "timeout")]


async def test_timeouts_end_in_a_timeout_error(api: respx.MockRouter, capgo: CapgoClient) -> None:
    api.get("/device").side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(CapgoTimeoutError, match="did not answer in time"):
        await capgo.devices.get("com.acme.app", "d1")


async def test_read_timeout_on_post_is_not_retried(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    route = api.post("/device").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(CapgoTimeoutError):
        await capgo.devices.set_channel("com.acme.app", "d1", "beta")
    assert route.call_count == 1


async def test_connect_error_is_retried_for_any_method(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    route = api.post("/device")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json={"status": "ok"})]
    await capgo.devices.set_channel("com.acme.app", "d1", "beta")
    assert route.call_count == 2


async def test_connection_failure_gives_a_transport_error(
    api: respx.MockRouter, capgo: CapgoClient, observer: RecordingObserver
) -> None:
    api.get("/device").side_effect = httpx.ConnectError("refused")
    with pytest.raises(CapgoTransportError, match="cannot reach Capgo"):
        await capgo.devices.get("com.acme.app", "d1")
    assert {code for _, code in observer.finished} == {"connection_error"}


async def test_malformed_body_on_get_is_retried_then_reported(
    api: respx.MockRouter, capgo: CapgoClient, observer: RecordingObserver
) -> None:
    route = api.get("/device").respond(200, text='{"data": [', headers={"x-request-id": "r9"})
    with pytest.raises(CapgoResponseError, match="not JSON") as caught:
        await capgo.devices.get("com.acme.app", "d1")
    assert caught.value.request_id == "r9"
    assert route.call_count == 4
    assert observer.retried == [("/device", "malformed_response")] * 3


async def test_other_4xx_are_never_retried(api: respx.MockRouter, capgo: CapgoClient) -> None:
    route = api.get("/device").respond(400, json=fixture("error_cannot_access_app.json"))
    with pytest.raises(BadRequestError):
        await capgo.devices.get("com.acme.app", "d1")
    assert route.call_count == 1


async def test_rejected_key_is_not_sent_again_during_the_cooldown(
    api: respx.MockRouter, capgo: CapgoClient, fake_time: FakeTime
) -> None:
    # Twenty failed authentications lock the IP out for 15 minutes, valid keys included.
    route = api.get("/device").respond(401, json=fixture("error_invalid_apikey.json"))
    api.get("/channel").respond(json=[])
    with pytest.raises(AuthenticationError):
        await capgo.devices.get("com.acme.app", "d1")
    for _ in range(5):
        with pytest.raises(AuthenticationError, match="not sent"):
            [_ async for _ in capgo.channels.list("com.acme.app")]
    assert route.call_count == 1
    assert api.calls.call_count == 1
    fake_time.now += 601
    assert [_ async for _ in capgo.channels.list("com.acme.app")] == []


async def test_permission_401_does_not_block_other_requests(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    # no_access_to_app is about one app, not the key.
    api.get("/statistics/app/com.other.app").respond(
        401, json={"error": "no_access_to_app", "message": "No access to app", "moreInfo": {}}
    )
    api.get("/channel").respond(json=[])
    with pytest.raises(AuthenticationError):
        await capgo.statistics.app("com.other.app", date(2026, 11, 1), date(2026, 11, 2))
    assert [_ async for _ in capgo.channels.list("com.acme.app")] == []


def test_retry_after_header_as_http_date() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds({"retry-after": header}, {}, now=now) == pytest.approx(30)


def test_retry_after_from_reset_timestamp() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    reset_ms = (now.timestamp() + 12) * 1000
    assert retry_after_seconds({}, {"rateLimitResetAt": reset_ms}, now=now) == pytest.approx(12)
    assert retry_after_seconds({}, {}, now=now) is None


async def test_retries_can_be_switched_off(api: respx.MockRouter, fake_time: FakeTime) -> None:
    client = make_client(fake_time, max_retries=0)
    route = api.get("/device").respond(503, json=fixture("error_unknown_500.json"))
    with pytest.raises(ServerError):
        await client.devices.get("com.acme.app", "d1")
    assert route.call_count == 1
    await client.aclose()
