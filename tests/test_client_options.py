"""The client settings travel as one ClientOptions, from the settings to what is sent."""

from __future__ import annotations

import pytest
import respx
from pydantic import SecretStr

from capgo_exporter import __version__
from capgo_exporter.api import CapgoClient, ClientOptions, ServerError
from capgo_exporter.daemon import client_options, make_client
from capgo_exporter.settings import load_settings

KEY = "0b7c1e52-9a4d-4f3e-8c21-5d6e7f809a1b"
URL = "http://capgo.test/functions/v1"


def settings_far_from_the_defaults() -> dict[str, object]:
    return {
        "api_url": URL,
        "api_key": KEY,
        "request_timeout": "7s",
        "connect_timeout": "2s",
        "max_retries": 0,
        "requests_per_minute": 321,
        "concurrency": 3,
        "statistics_interval": "2m",
    }


@respx.mock
async def test_the_settings_reach_the_request_on_the_wire() -> None:
    settings = load_settings(settings_far_from_the_defaults(), environ={}, home=None)
    failing = {"error": "unknown_error", "message": "simulated"}
    route = respx.get(url__startswith=f"{URL}/app").respond(500, json=failing)
    async with make_client(settings, None) as client:
        with pytest.raises(ServerError):
            await client.apps.get("com.example.app")
    # max_retries 0: one attempt where the default (3) would send four.
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.extensions["timeout"] == {"connect": 2, "read": 7, "write": 7, "pool": 7}
    assert request.headers["capgkey"] == request.headers["authorization"] == KEY
    assert request.headers["user-agent"] == f"capgo-exporter/{__version__}"


async def test_the_budget_and_retries_come_from_the_settings() -> None:
    settings = load_settings(settings_far_from_the_defaults(), environ={}, home=None)
    async with make_client(settings, None) as client:
        http = client.http
    assert http.options == client_options(settings)
    assert (http.budget.requests_per_minute, http.budget.concurrency) == (321, 3)
    # Back-off grows up to the shortest poll interval: the statistics collector's 2m here.
    assert (http.retry.max_retries, http.retry.backoff_max) == (0, 120)


async def test_the_options_go_through_unchanged() -> None:
    options = ClientOptions(api_key=SecretStr(KEY), base_url=URL, request_timeout=9)
    async with CapgoClient.create(options) as client:
        assert client.http.options is options


def test_the_key_is_required_and_never_printed() -> None:
    with pytest.raises(ValueError, match="an API key is required"):
        ClientOptions(api_key=SecretStr(""))
    with pytest.raises(ValueError, match="an API key is required"):
        client_options(load_settings({}, environ={}, home=None))
    options = ClientOptions(api_key=SecretStr(KEY))
    assert KEY not in repr(options)
    assert KEY not in str(options)
