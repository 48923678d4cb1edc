"""/apikey: listing, lookups, no creation by keys, regenerate, delete, RBAC codes."""

from __future__ import annotations

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.clock import day
from tests.sim.conftest import APP, client_for

PUBLIC_FIELDS = {
    "id",
    "name",
    "user_id",
    "rbac_id",
    "created_at",
    "updated_at",
    "expires_at",
    "is_hashed_key",
    "global_permissions",
}


def _grafana_key_id(client: httpx.Client) -> int:
    return int(next(k["id"] for k in client.get("/apikey").json() if k["name"] == "grafana-acme"))


def test_list_has_public_fields_only(client: httpx.Client) -> None:
    keys = client.get("/apikey").json()
    assert all(set(k) == PUBLIC_FIELDS for k in keys)
    assert any(k["is_hashed_key"] for k in keys)
    assert any(k["expires_at"] for k in keys)


def test_get_by_id_and_unknown_id(client: httpx.Client) -> None:
    key_id = _grafana_key_id(client)
    assert client.get(f"/apikey/{key_id}").json()["name"] == "grafana-acme"
    r = client.get("/apikey/424242")
    assert (r.status_code, r.json()["error"]) == (404, "failed_to_get_apikey")
    assert client.get("/apikey/a b").json()["error"] == "invalid_id_format"


def test_keys_can_never_create_keys(client: httpx.Client) -> None:
    r = client.post("/apikey", json={"name": "x", "bindings": []})
    assert (r.status_code, r.json()["error"], r.json()["message"]) == (
        400,
        "cannot_create_apikey",
        "API keys cannot create other API keys",
    )


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/apikey", "cannot_list_apikeys"),
        ("GET", "/apikey/1", "cannot_get_apikey"),
        ("PUT", "/apikey/1", "cannot_update_apikey"),
        ("DELETE", "/apikey/1", "cannot_delete_apikey"),
    ],
)
def test_non_managers_get_401(sim: Simulator, method: str, path: str, code: str) -> None:
    with client_for(sim, "reader-key") as reader:
        r = reader.request(method, path, json={"name": "x"} if method == "PUT" else None)
        assert (r.status_code, r.json()["error"]) == (401, code)


def test_rename_and_expiry(client: httpx.Client) -> None:
    key_id = _grafana_key_id(client)
    renamed = client.put(
        f"/apikey/{key_id}", json={"name": "dash", "expires_at": f"{day(300)}T00:00:00Z"}
    )
    assert set(renamed.json()) == PUBLIC_FIELDS
    assert renamed.json()["name"] == "dash"
    assert renamed.json()["expires_at"].startswith(day(300))
    past = client.put(f"/apikey/{key_id}", json={"expires_at": "2020-01-01"})
    assert past.json()["error"] == "invalid_expiration_date"
    assert (
        client.put(f"/apikey/{key_id}", json={"foo": 1}).json()["error"]
        == "no_valid_fields_provided_for_update"
    )


def test_regenerate_swaps_the_key(sim: Simulator, client: httpx.Client) -> None:
    grafana = next(k for k in sim.world.keys if k.name == "grafana-acme")
    old = grafana.key
    assert old is not None
    fresh = client.put(f"/apikey/{grafana.id}", json={"regenerate": True}).json()
    assert fresh["key"] != old
    with client_for(sim, fresh["key"]) as c:
        assert c.get("/channel", params={"app_id": APP}).status_code == 200
    with client_for(sim, old) as c:
        assert c.get("/channel", params={"app_id": APP}).json()["error"] == "invalid_apikey"


def test_a_key_cannot_update_or_delete_itself(client: httpx.Client) -> None:
    own = next(k for k in client.get("/apikey").json() if k["name"] == "org_super_admin key 1")
    assert client.put(f"/apikey/{own['id']}", json={"name": "me"}).status_code == 401
    assert client.delete(f"/apikey/{own['id']}").json()["error"] == "cannot_delete_apikey"


def test_delete_then_404(client: httpx.Client) -> None:
    key_id = _grafana_key_id(client)
    assert client.delete(f"/apikey/{key_id}").json() == {"status": "ok"}
    r = client.delete(f"/apikey/{key_id}")
    assert (r.status_code, r.json()["error"]) == (404, "api_key_not_found")
    assert client.get(f"/apikey/{key_id}").status_code == 404
