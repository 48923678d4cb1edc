"""The two auth middlewares, their headers and codes, and the failed-auth lockout."""

from __future__ import annotations

import httpx
import pytest

from capgo_exporter.sim import Simulator
from capgo_exporter.sim.hashing import stable_uuid
from tests.sim.conftest import APP, FakeClock, client_for

KEY_ROUTE = f"/channel?app_id={APP}"  # middlewareKey
AUTH_ROUTE = f"/statistics/app/{APP}?from=2026-03-01&to=2026-03-08"  # middlewareAuth


def _get(sim: Simulator, path: str, headers: dict[str, str]) -> httpx.Response:
    with client_for(sim, key=None) as c:
        return c.get(path, headers=headers)


@pytest.mark.parametrize("path", [KEY_ROUTE, AUTH_ROUTE])
@pytest.mark.parametrize("header", ["capgkey", "authorization"])
def test_raw_key_works_in_capgkey_and_authorization(sim: Simulator, path: str, header: str) -> None:
    assert _get(sim, path, {header: "demo"}).status_code == 200


def test_capgkey_wins_over_authorization(sim: Simulator) -> None:
    r = _get(sim, KEY_ROUTE, {"capgkey": "demo", "authorization": "nope"})
    assert r.status_code == 200


def test_x_api_key_is_ignored_by_middleware_key(sim: Simulator) -> None:
    r = _get(sim, KEY_ROUTE, {"x-api-key": "demo"})
    assert (r.status_code, r.json()["error"]) == (401, "no_key_provided")


def test_x_api_key_works_on_middleware_auth(sim: Simulator) -> None:
    assert _get(sim, AUTH_ROUTE, {"x-api-key": "demo"}).status_code == 200


def test_no_credentials_on_middleware_auth(sim: Simulator) -> None:
    r = _get(sim, AUTH_ROUTE, {})
    assert (r.status_code, r.json()["error"]) == (401, "no_jwt_apikey_or_subkey")


def test_bearer_prefix_is_rejected_with_the_middleware_specific_code(sim: Simulator) -> None:
    assert (
        _get(sim, KEY_ROUTE, {"authorization": "Bearer demo"}).json()["error"] == "invalid_apikey"
    )
    r = _get(sim, AUTH_ROUTE, {"authorization": "Bearer demo"})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_jwt")


def test_unknown_uuid_key_is_invalid_apikey(sim: Simulator) -> None:
    r = _get(sim, AUTH_ROUTE, {"authorization": "5f0c6f5e-2f3b-4a53-9a57-2c2f0b5d8f11"})
    assert (r.status_code, r.json()) == (
        401,
        {"error": "invalid_apikey", "message": "Invalid apikey", "moreInfo": {}},
    )


def test_expired_generated_key_is_invalid_but_hashed_key_works(sim: Simulator) -> None:
    expired = stable_uuid(1, "apikey", 0, "old-release")
    hashed = stable_uuid(1, "apikey", 0, "ci-deploy")  # app_uploader, stored as sha256
    assert _get(sim, KEY_ROUTE, {"capgkey": expired}).json()["error"] == "invalid_apikey"
    assert _get(sim, KEY_ROUTE, {"capgkey": hashed}).status_code == 200


def test_twenty_failures_lock_the_ip_out_even_for_valid_keys(
    sim: Simulator, clock: FakeClock
) -> None:
    for _ in range(20):
        assert _get(sim, KEY_ROUTE, {"capgkey": "wrong"}).status_code == 401
    locked = _get(sim, KEY_ROUTE, {"capgkey": "demo"})
    assert locked.status_code == 429
    assert locked.json()["moreInfo"]["reason"] == "too_many_failed_auth_attempts"
    assert int(locked.headers["Retry-After"]) == 900
    other_ip = _get(sim, KEY_ROUTE, {"capgkey": "demo", "cf-connecting-ip": "10.0.0.9"})
    assert other_ip.status_code == 200
    clock.advance(minutes=15)
    assert _get(sim, KEY_ROUTE, {"capgkey": "demo"}).status_code == 200


def test_nineteen_failures_do_not_lock(sim: Simulator) -> None:
    for _ in range(19):
        _get(sim, KEY_ROUTE, {"capgkey": "wrong"})
    assert _get(sim, KEY_ROUTE, {"capgkey": "demo"}).status_code == 200
