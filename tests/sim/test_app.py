"""/app: list with page/limit, get, create, update, delete."""

from __future__ import annotations

import httpx

from capgo_exporter.sim import Simulator
from tests.sim.conftest import APP, client_for


def test_list_pages_with_query_strings(client: httpx.Client, sim: Simulator) -> None:
    everything = [a["app_id"] for a in client.get("/app").json()]
    assert everything == sim.app_ids()
    second = client.get("/app", params={"page": "1", "limit": "3"}).json()
    assert [a["app_id"] for a in second] == everything[3:6]
    org_id = sim.org_ids()[0]
    assert {a["owner_org"] for a in client.get("/app", params={"org_id": org_id}).json()} == {
        org_id
    }


def test_org_filter_without_access(sim: Simulator) -> None:
    with client_for(sim, "globex-key") as c:
        r = c.get("/app", params={"org_id": sim.org_ids()[0]})
    assert r.json()["error"] == "user_does_not_have_access_to_this_organization"


def test_get_one_and_no_access(client: httpx.Client, sim: Simulator) -> None:
    app = client.get(f"/app/{APP}").json()
    assert (app["app_id"], app["last_version"]) == (APP, "1.2.3")
    r = client.get("/app/com.nobody.app")
    assert (r.status_code, r.json()["error"]) == (401, "cannot_access_app")
    with client_for(sim, "globex-key") as other:
        assert other.get(f"/app/{APP}").status_code == 401


def test_create_update_delete(client: httpx.Client, sim: Simulator) -> None:
    org_id = sim.org_ids()[0]
    body = {"app_id": "com.acme.newapp", "name": "New", "owner_org": org_id}
    assert client.post("/app", json=body).json()["app_id"] == "com.acme.newapp"
    r = client.post("/app", json=body)
    assert (r.status_code, r.json()["error"]) == (409, "app_id_already_exists")
    assert client.put("/app/com.acme.newapp", json={"name": "Renamed"}).json()["name"] == "Renamed"
    assert (
        client.put("/app/com.acme.newapp", json={"retention": -1}).json()["error"]
        == "retention_to_small"
    )
    assert client.get("/bundle", params={"app_id": "com.acme.newapp"}).status_code == 200
    assert client.delete("/app/com.acme.newapp").json() == {"status": "ok"}
    assert client.get("/app/com.acme.newapp").status_code == 401


def test_create_errors(client: httpx.Client, sim: Simulator) -> None:
    assert client.post("/app", json={"app_id": "com.a.b"}).json()["error"] == "missing_name"
    with client_for(sim, "reader-key") as reader:
        r = reader.post(
            "/app", json={"app_id": "com.a.b", "name": "x", "owner_org": sim.org_ids()[0]}
        )
        assert (r.status_code, r.json()["error"]) == (403, "cannot_access_organization")
        assert reader.delete(f"/app/{APP}").json()["error"] == "cannot_delete_app"
