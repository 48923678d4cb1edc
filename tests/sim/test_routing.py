"""Paths, prefixes, 404s and the headers every response carries."""

from __future__ import annotations

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.sim.conftest import APP


@pytest.mark.parametrize(
    "path", ["/channel", "/channel/", "/functions/v1/channel", "/functions/v1/channel/"]
)
def test_trailing_slash_and_edge_prefix_route_alike(client: httpx.Client, path: str) -> None:
    r = client.get(path, params={"app_id": APP})
    assert r.status_code == 200
    assert [c["name"] for c in r.json()] == ["production", "beta", "staging"]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nope"), ("PATCH", "/channel"), ("PUT", "/device")]
)
def test_unknown_path_or_method_is_404_without_more_info(
    client: httpx.Client, method: str, path: str
) -> None:
    r = client.request(method, path)
    assert (r.status_code, r.json()) == (404, {"error": "not_found", "message": "Not found"})


def test_every_response_has_a_unique_request_id_and_json_type(client: httpx.Client) -> None:
    ids = {client.get("/ok").headers["X-Request-Id"] for _ in range(5)}
    ids.add(client.get("/nope").headers["X-Request-Id"])
    assert len(ids) == 6
    assert client.get("/ok").headers["content-type"] == "application/json"


def test_ok_needs_no_key_and_post_ok_needs_a_json_body(client: httpx.Client) -> None:
    assert client.get("/ok", headers={"capgkey": ""}).json() == {"status": "ok"}
    assert client.post("/ok").json()["error"] == "invalid_json_parse_body"
    assert client.post("/ok", json={}).status_code == 200


def test_get_reads_a_json_body_before_the_query(client: httpx.Client) -> None:
    r = client.request(
        "GET", "/channel", params={"app_id": "bad id"}, json={"app_id": APP, "channel": "beta"}
    )
    assert r.json()["name"] == "beta"


def test_request_counts_use_route_templates(client: httpx.Client, sim: Simulator) -> None:
    client.get(f"/app/{APP}")
    client.get("/app/com.acme.wallet")
    client.get("/nope")
    assert sim.request_counts() == {"GET /app/{id}": 2, "GET <unmatched>": 1}
    assert sim.status_counts()["GET <unmatched> 404"] == 1
    sim.reset_request_counts()
    assert sim.request_counts() == {}
