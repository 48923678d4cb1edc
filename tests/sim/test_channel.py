"""/channel: shapes, the query-string page bug, create/update quirks, delete."""

from __future__ import annotations

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.sim.conftest import APP, FakeClock, client_for, make_sim


def test_channel_object_shape(client: httpx.Client) -> None:
    production = client.get("/channel", params={"app_id": APP, "channel": "production"}).json()
    assert production["public"] is True
    assert production["version"]["name"] == "1.2.2"
    assert production["rollout_version_info"]["name"] == "1.2.3"
    assert (production["rolloutEnabled"], production["rolloutPercentageBps"]) == (True, 2500)
    staging = client.get("/channel", params={"app_id": APP, "channel": "staging"}).json()
    assert staging["rolloutPausedAt"] is not None
    assert "ios" not in production


def test_unknown_channel_name_is_cannot_find_version(client: httpx.Client) -> None:
    r = client.get("/channel", params={"app_id": APP, "channel": "nope"})
    assert (r.status_code, r.json()["error"]) == (400, "cannot_find_version")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "missing_app_id"),
        ({"app_id": "not an id"}, "invalid_app_id"),
        ({"app_id": "com.nobody.app"}, "cannot_access_app"),
    ],
)
def test_app_errors(client: httpx.Client, params: dict[str, str], code: str) -> None:
    r = client.get("/channel", params=params)
    assert (r.status_code, r.json()["error"]) == (400, code)


@pytest.fixture
def many(clock: FakeClock) -> Simulator:
    return make_sim(clock, orgs=1, apps_per_org=1, devices_per_app=10, channels_per_app=1200)


@pytest.mark.parametrize(
    ("page", "first", "count"),
    [("0", 0, 50), ("1", 50, 500), ("2", 100, 950), ("3", 150, 1000), ("30", 1500, 0)],
)
def test_query_string_page_bug(many: Simulator, page: str, first: int, count: int) -> None:
    with client_for(many) as c:
        rows = c.get("/channel", params={"app_id": APP, "page": page}).json()
    assert len(rows) == count
    if count:
        ordered = [row["id"] for row in rows]
        assert ordered[0] == _ids(many)[first]


def _ids(sim: Simulator) -> list[int]:
    return [c.id for c in sim.world.channels[APP]]


def test_json_page_is_correct(many: Simulator) -> None:
    with client_for(many) as c:
        rows = c.request("GET", "/channel", json={"app_id": APP, "page": 1}).json()
    assert [r["id"] for r in rows] == _ids(many)[50:100]


def test_create_update_and_delete(client: httpx.Client) -> None:
    created = client.post("/channel", json={"app_id": APP, "channel": "qa", "version": "1.2.1"})
    assert created.json()["status"] == "ok"
    assert created.json()["public"] is False
    assert client.post(
        "/channel", json={"app_id": APP, "channel": "qa", "allow_emulator": False}
    ).json() == {"status": "ok"}
    qa = client.get("/channel", params={"app_id": APP, "channel": "qa"}).json()
    assert (qa["version"]["name"], qa["allow_emulator"]) == ("1.2.1", False)
    assert client.delete("/channel", params={"app_id": APP, "channel": "qa"}).json() == {
        "status": "ok"
    }
    r = client.delete("/channel", params={"app_id": APP, "channel": "qa"})
    assert r.json()["error"] == "cannot_find_channel"
    by_name = client.request("DELETE", "/channel", json={"app_id": APP, "name": "beta"})
    assert by_name.json()["error"] == "missing_channel_name"


def test_rollout_update(client: httpx.Client) -> None:
    body = {
        "app_id": APP,
        "channel": "beta",
        "rolloutVersion": "1.2.3",
        "rolloutPercentage": 10,
        "rolloutEnabled": True,
    }
    assert client.post("/channel", json=body).status_code == 200
    beta = client.get("/channel", params={"app_id": APP, "channel": "beta"}).json()
    assert (beta["rolloutPercentageBps"], beta["rolloutEnabled"]) == (1000, True)
    bad = client.post("/channel", json={**body, "rolloutPercentage": 150}).json()
    assert bad["error"] == "invalid_rollout_percentage"


def test_500_quirks(client: httpx.Client) -> None:
    r = client.post("/channel", json={"app_id": APP, "channel": "beta", "version": "9.9.9"})
    assert (r.status_code, r.json()["error"]) == (500, "unknown_error")
    assert client.post("/channel", json={"app_id": APP}).status_code == 500
    new = client.post("/channel", json={"app_id": APP, "channel": "x", "version": "9.9.9"})
    assert (new.status_code, new.json()["error"]) == (400, "cannot_find_version")
    assert client.post("/channel").json()["error"] == "invalid_json_parse_body"


def test_developer_cannot_change_channel_settings(sim: Simulator) -> None:
    with client_for(sim, "dev-key") as dev:
        r = dev.post("/channel", json={"app_id": APP, "channel": "beta", "public": True})
        assert (r.status_code, r.json()["error"]) == (400, "cannot_access_app")
        assert dev.post("/channel", json={"app_id": APP, "channel": "new"}).status_code == 200
