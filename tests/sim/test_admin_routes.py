"""The /_sim/ control routes are routed like Capgo's: prefixes, trailing slashes, 404s."""

from __future__ import annotations

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.sim.conftest import APP

NOT_FOUND = {"error": "not_found", "message": "Not found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_sim/nope"),
        ("GET", "/_sim"),
        ("GET", "/_sim/requests/reset"),  # a known path, another method
        ("DELETE", "/_sim/config"),
        ("GET", "/functions/v1/_sim/nope"),
    ],
)
def test_an_unknown_control_route_is_404(client: httpx.Client, method: str, path: str) -> None:
    r = client.request(method, path)
    assert (r.status_code, r.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("prefix", ["", "/functions/v1"])
def test_control_routes_answer_under_the_apis_prefixes(
    client: httpx.Client, sim: Simulator, prefix: str
) -> None:
    """Where the API is served under /functions/v1, so are the control routes."""
    client.get(f"{prefix}/channel", params={"app_id": APP})
    assert client.get(f"{prefix}/_sim/requests/").json() == {"GET /channel": 1}
    assert client.post(f"{prefix}/_sim/requests/reset").json() == {"status": "ok"}
    assert sim.request_counts() == {}
    touched = client.post(f"{prefix}/_sim/touch", json={"app_id": APP, "n": 3})
    assert len(touched.json()["device_ids"]) == 3
    assert client.post(f"{prefix}/_sim/config", json={"latency_ms": 7}).json()["latency_ms"] == 7


@pytest.mark.parametrize(
    "body", [{"app_id": "com.nowhere.app", "n": 1}, {"app_id": APP, "n": -1}, [1, 2], None]
)
def test_add_refuses_what_it_cannot_do(client: httpx.Client, body: object) -> None:
    r = client.post("/_sim/add", json=body)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_body"
