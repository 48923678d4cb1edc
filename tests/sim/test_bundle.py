"""/bundle: order, soft deletes, the page bug, the empty-page 400, writes."""

from __future__ import annotations

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.sim.conftest import APP, FakeClock, client_for, make_sim


def _names(client: httpx.Client, **params: str) -> list[str]:
    return [b["name"] for b in client.get("/bundle", params={"app_id": APP, **params}).json()]


def test_newest_first_without_deleted_bundles(client: httpx.Client) -> None:
    names = _names(client)
    assert names[:3] == ["1.2.3", "1.2.2", "1.2.1"]
    assert "1.0.0" not in names  # soft-deleted at generation
    assert "1.0.1" not in names
    assert names[-2:] == ["unknown", "builtin"]  # reserved rows, oldest


def test_empty_page_is_a_400(client: httpx.Client) -> None:
    r = client.get("/bundle", params={"app_id": APP, "page": "1"})
    assert (r.status_code, r.json()) == (
        400,
        {"error": "cannot_get_bundle", "message": "Cannot get bundle", "moreInfo": {}},
    )


def test_no_access_is_a_400_with_another_message(sim: Simulator) -> None:
    with client_for(sim, "member-key") as member:
        r = member.get("/bundle", params={"app_id": APP})
    assert (r.status_code, r.json()["error"], r.json()["message"]) == (
        400,
        "cannot_get_bundle",
        "You can't access this app",
    )


@pytest.mark.parametrize(("page", "count"), [("0", 50), ("1", 70), ("2", 20)])
def test_query_string_page_bug(clock: FakeClock, page: str, count: int) -> None:
    sim = make_sim(clock, orgs=1, apps_per_org=1, devices_per_app=10, bundles_per_app=120)
    with client_for(sim) as c:  # 118 live uploads + 2 reserved rows
        assert len(_names(c, page=page)) == count
        assert len(c.request("GET", "/bundle", json={"app_id": APP, "page": 2}).json()) == 20


def test_delete_one_and_linked(client: httpx.Client) -> None:
    assert client.delete("/bundle", params={"app_id": APP, "version": "1.1.0"}).json() == {
        "status": "ok"
    }
    assert "1.1.0" not in _names(client)
    linked = client.delete("/bundle", params={"app_id": APP, "version": "1.2.2"}).json()
    assert linked["error"] == "cannot_delete_linked_version"
    unknown = client.delete("/bundle", params={"app_id": APP, "version": "9.9.9"}).json()
    assert unknown["error"] == "cannot_delete_version"


def test_delete_without_version_removes_all_unlinked(client: httpx.Client) -> None:
    client.delete("/bundle", params={"app_id": APP})
    assert _names(client) == ["1.2.3", "1.2.2", "1.2.1", "unknown", "builtin"]


def test_developer_cannot_delete(sim: Simulator) -> None:
    with client_for(sim, "dev-key") as dev:
        r = dev.delete("/bundle", params={"app_id": APP, "version": "1.1.0"})
        assert r.json()["error"] == "cannot_delete_bundle"


def test_create_external_set_channel_and_metadata(client: httpx.Client) -> None:
    body = {
        "app_id": APP,
        "version": "2.0.0",
        "external_url": "https://cdn.example/b.zip",
        "checksum": "abc",
    }
    created = client.post("/bundle", json=body).json()
    assert created["status"] == "success"
    assert created["bundle"]["name"] == "2.0.0"
    assert client.post("/bundle", json=body).json()["error"] == "version_already_exists"
    insecure = client.post(
        "/bundle", json={**body, "version": "2.0.1", "external_url": "http://x"}
    ).json()
    assert insecure["error"] == "invalid_protocol"
    beta = client.get("/channel", params={"app_id": APP, "channel": "beta"}).json()
    moved = client.put(
        "/bundle",
        json={"app_id": APP, "version_id": created["bundle"]["id"], "channel_id": beta["id"]},
    ).json()
    assert moved["message"] == "Bundle 2.0.0 set to channel beta"
    meta = {"app_id": APP, "version_id": created["bundle"]["id"], "comment": "hotfix"}
    assert client.post("/bundle/metadata", json=meta).json() == {"status": "ok"}
    assert _names(client)[0] == "2.0.0"
    assert client.get("/bundle", params={"app_id": APP}).json()[0]["comment"] == "hotfix"
    assert client.put("/bundle", json={"app_id": APP}).json()["error"] == "missing_required_fields"
