"""The events collector against the simulator (pinned clock): every figure equals what the
route answers for each window, two requests per app per run, and clean degradation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.api.insights import DEFAULT_FAILURE_ACTIONS, ROUTE
from capgo_exporter.collect.base import Discovery
from capgo_exporter.collect.events import (
    APP_EVENT_DEVICES,
    APP_EVENTS,
    BUNDLE_EVENT_DEVICES,
    BUNDLE_EVENTS,
    EVENTS_WINDOW,
    EventsCollector,
)
from capgo_exporter.sim import SimConfig, Simulator
from tests.collect.conftest import KEY, discover, make_settings, run, sim_client, values

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def pinned_sim() -> Simulator:
    config = SimConfig(
        seed=7,
        orgs=2,
        apps_per_org=2,
        devices_per_app=3000,
        keys={KEY: "org_super_admin"},
        bad_release_apps=frozenset({0}),
    )
    return Simulator(config, clock=lambda: NOW)


def _route(sim: Simulator, app_id: str, days: int, actions: list[str] | None) -> Any:
    body: dict[str, Any] = {"appId": app_id, "days": days}
    if actions:
        body["actions"] = actions
    with httpx.Client(transport=sim.sync_transport(), base_url="http://sim") as http:
        answer = http.post(ROUTE, json=body, headers={"capgkey": KEY})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("days", [1, 3, 7, 30])
async def test_every_figure_is_what_the_route_answers(pinned_sim: Simulator, days: int) -> None:
    settings = make_settings(events_days=days)
    async with sim_client(pinned_sim) as client:
        discovery = await discover(client, settings)
        samples = (await run(EventsCollector(), client, settings, discovery)).samples
    assert values(samples, EVENTS_WINDOW) == {(): days * 86_400}
    expected_app: dict[tuple[str, ...], float] = {}
    expected_app_devices: dict[tuple[str, ...], float] = {}
    expected_bundle: dict[tuple[str, ...], float] = {}
    expected_bundle_devices: dict[tuple[str, ...], float] = {}
    for app in discovery.apps:
        for requested in (["set"], None):
            answer = _route(pinned_sim, app.app_id, days, requested)
            listed = {row["action"]: row for row in answer["actions"]}
            assert len(listed) < 20  # below the cut, absent actions are zeros
            for action in requested or DEFAULT_FAILURE_ACTIONS:
                row = listed.get(action, {"total": 0, "device_count": 0})
                expected_app[(app.app_id, action)] = row["total"]
                expected_app_devices[(app.app_id, action)] = row["device_count"]
            for pair in answer["versions"]:
                key = (app.app_id, pair["version_name"], pair["action"])
                expected_bundle[key] = pair["total"]
                expected_bundle_devices[key] = pair["device_count"]
    assert values(samples, APP_EVENTS) == expected_app
    assert values(samples, APP_EVENT_DEVICES) == expected_app_devices
    assert values(samples, BUNDLE_EVENTS) == expected_bundle
    assert values(samples, BUNDLE_EVENT_DEVICES) == expected_bundle_devices
    assert any(v > 0 for (_, action), v in expected_app.items() if action != "set")


async def test_two_requests_per_app_per_run(pinned_sim: Simulator) -> None:
    settings = make_settings()
    async with sim_client(pinned_sim) as client:
        discovery = await discover(client, settings)
        pinned_sim.reset_request_counts()
        await run(EventsCollector(), client, settings, discovery)
        await run(EventsCollector(), client, settings, discovery)
    counts = pinned_sim.request_counts()
    assert counts == {f"POST {ROUTE}": 2 * 2 * len(discovery.apps)}


def _degrading(gone: str, denied: str, changed: str) -> httpx.MockTransport:
    """404 for one app, app_access_denied for another, a changed shape for a third."""
    sim = Simulator(SimConfig(seed=7, keys={KEY: "org_super_admin"}), clock=lambda: NOW)
    inner = sim.sync_transport()

    def handle(request: httpx.Request) -> httpx.Response:
        app_id = json.loads(request.content)["appId"]
        if app_id == gone:
            return httpx.Response(404, json={"error": "not_found", "message": "Not found"})
        if app_id == denied:
            return httpx.Response(400, json={"error": "app_access_denied", "message": "no"})
        answer = inner.handle_request(request)
        answer.read()
        if app_id == changed:
            body = json.loads(answer.content)
            body["versions"] = {"1.0.0": 3}  # a mapping where a list was
            return httpx.Response(200, json=body)
        return httpx.Response(answer.status_code, content=answer.content)

    return httpx.MockTransport(handle)


async def test_each_degradation_skips_only_that_app() -> None:
    from capgo_exporter.api.models import App

    apps = [
        App.model_validate({"app_id": f"com.acme.{name}", "name": name, "owner_org": "o"})
        for name in ("shop", "wallet", "companion")
    ]
    gone, denied, changed = (a.app_id for a in apps)
    ok = App.model_validate({"app_id": "com.globex.shop", "name": "g", "owner_org": "o"})
    transport = _degrading(gone, denied, changed)
    options = ClientOptions(api_key=SecretStr(KEY), base_url="http://sim")
    client = CapgoClient.create(options, transport=_AsyncAdapter(transport))
    collector = EventsCollector()
    async with client:
        result = await run(collector, client, make_settings(), Discovery(apps=(*apps, ok)))
        again = await run(collector, client, make_settings(), Discovery(apps=(*apps, ok)))
    published = {labels[0] for labels in values(result.samples, APP_EVENTS)}
    assert published == {ok.app_id}
    assert values(again.samples, APP_EVENTS) == values(result.samples, APP_EVENTS)


class _AsyncAdapter(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.MockTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self._inner.handle_request(request)
