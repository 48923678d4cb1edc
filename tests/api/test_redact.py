"""The key taken out of Capgo's answers: every form it may be echoed in, bodies and errors."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import respx

from capgo_exporter.api import CapgoClient, ServerError
from capgo_exporter.api.redact import REDACTED, KeyRedactor

from .conftest import KEY

ODD_KEY = "7f1c2a9e-7d3b-4c55/9a0e+2b6d8f3c"


def test_every_form_of_the_key_is_replaced_in_text() -> None:
    redact = KeyRedactor(ODD_KEY)
    for form in (ODD_KEY, ODD_KEY.upper(), quote(ODD_KEY, safe=""), json.dumps(ODD_KEY)[1:-1]):
        assert redact.text(f"Invalid apikey {form}!") == f"Invalid apikey {REDACTED}!"


def test_nested_values_lose_the_key_in_keys_and_values() -> None:
    redact = KeyRedactor(KEY)
    value = {"a": [KEY, {"b": f"x{KEY}y"}], KEY: 1, "n": 2.5, "none": None}
    assert redact.value(value) == {
        "a": [REDACTED, {"b": f"x{REDACTED}y"}],
        REDACTED: 1,
        "n": 2.5,
        "none": None,
    }


def test_bodies_lose_the_key_and_stay_json() -> None:
    redact = KeyRedactor(KEY)
    body = json.dumps([{"key": KEY, "name": f"ci {KEY.upper()}"}]).encode()
    assert json.loads(redact.body(body)) == [{"key": REDACTED, "name": f"ci {REDACTED}"}]


def test_a_short_key_is_not_searched_for_in_bodies() -> None:
    """A key such as the simulator's "demo" would match ordinary data (device ids, names)."""
    redact = KeyRedactor("e2e")
    assert redact.body(b'{"device_id": "3e2e"}') == b'{"device_id": "3e2e"}'
    assert redact.text("Invalid apikey e2e") == f"Invalid apikey {REDACTED}"


async def test_an_error_echoing_the_key_carries_it_nowhere(
    api: respx.MockRouter, capgo: CapgoClient
) -> None:
    api.get("/organization").respond(
        500,
        json={"error": KEY, "message": f"Invalid apikey {KEY}", "moreInfo": {"k": [KEY]}},
        headers={"x-request-id": KEY.upper()},
    )
    with pytest.raises(ServerError) as caught:
        await capgo.http.call("GET", "/organization")
    error = caught.value
    seen = (str(error), error.code, error.message, str(error.request_id), repr(error.more_info))
    assert all(KEY not in text and KEY.upper() not in text for text in seen), seen
    assert error.more_info == {"k": [REDACTED]}
