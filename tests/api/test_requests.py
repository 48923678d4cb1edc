"""Each operation sends the request the real backend expects: method, path, where the
parameters go (query string for GET/DELETE, JSON body for POST/PUT) and the auth headers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import respx

from capgo_exporter.api import CapgoClient

from .conftest import KEY, fixture

OK = {"status": "ok"}

Call = Callable[[CapgoClient], Awaitable[Any]]


async def _drain(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


# (name, method, path, answer, call, expected query, expected JSON body or None)
CASES: list[tuple[str, str, str, Any, Call, dict[str, str], dict[str, Any] | None]] = [
    ("org get", "GET", "/organization", fixture("organization.json"),
     lambda c: c.organizations.get("o1"), {"orgId": "o1"}, None),
    ("org create", "POST", "/organization", {"id": "o9"},
     lambda c: c.organizations.create("Acme", website="acme.test"), {},
     {"name": "Acme", "website": "acme.test"}),
    ("org update", "PUT", "/organization", {"status": "Organization updated", "id": "o1"},
     lambda c: c.organizations.update("o1", name="New"), {}, {"orgId": "o1", "name": "New"}),
    ("org delete", "DELETE", "/organization", OK,
     lambda c: c.organizations.delete("o1"), {"orgId": "o1"}, None),
    ("members list", "GET", "/organization/members", fixture("member.json"),
     lambda c: c.members.list("o1"), {"orgId": "o1"}, None),
    ("members invite", "POST", "/organization/members", OK,
     lambda c: c.members.invite("o1", "x@acme.test", "org_admin"), {},
     {"orgId": "o1", "email": "x@acme.test", "invite_type": "org_admin"}),
    ("members remove", "DELETE", "/organization/members", OK,
     lambda c: c.members.remove("o1", "x@acme.test"), {"orgId": "o1", "email": "x@acme.test"},
     None),
    ("apikey list", "GET", "/apikey", [fixture("apikey_public.json")],
     lambda c: c.apikeys.list(), {}, None),
    ("apikey get", "GET", "/apikey/10", fixture("apikey_public.json"),
     lambda c: c.apikeys.get(10), {}, None),
    ("apikey create", "POST", "/apikey", fixture("apikey_public.json"),
     lambda c: c.apikeys.create("ci", hashed=True), {}, {"name": "ci", "hashed": True}),
    ("apikey rename", "PUT", "/apikey/10", fixture("apikey_public.json"),
     lambda c: c.apikeys.update(10, name="ci2"), {}, {"name": "ci2"}),
    ("apikey clear expiry", "PUT", "/apikey/10", fixture("apikey_public.json"),
     lambda c: c.apikeys.update(10, expires_at=None), {}, {"expires_at": None}),
    ("apikey regenerate", "PUT", "/apikey/10", fixture("apikey_public.json"),
     lambda c: c.apikeys.update(10, regenerate=True), {}, {"regenerate": True}),
    ("apikey delete", "DELETE", "/apikey/10", OK, lambda c: c.apikeys.delete(10), {}, None),
    ("app get", "GET", "/app/com.acme.app", {"app_id": "com.acme.app"},
     lambda c: c.apps.get("com.acme.app"), {}, None),
    ("app list", "GET", "/app", [{"app_id": "com.acme.app"}],
     lambda c: _drain(c.apps.list("o1")), {"page": "0", "limit": "50", "org_id": "o1"}, None),
    ("stats app", "GET", "/statistics/app/com.acme.app", fixture("stats_rows.json"),
     lambda c: c.statistics.app("com.acme.app", date(2026, 11, 1), date(2026, 11, 27)),
     {"from": "2026-11-01", "to": "2026-11-27"}, None),
    ("stats app daily", "GET", "/statistics/app/com.acme.app", fixture("stats_rows.json"),
     lambda c: c.statistics.app("com.acme.app", date(2026, 11, 1), date(2026, 11, 3), daily=True),
     {"from": "2026-11-01", "to": "2026-11-03", "noAccumulate": "true"}, None),
    ("stats org", "GET", "/statistics/org/o1", fixture("stats_rows.json"),
     lambda c: c.statistics.org("o1", date(2026, 11, 1), date(2026, 11, 27)),
     {"from": "2026-11-01", "to": "2026-11-27"}, None),
    ("stats org breakdown", "GET", "/statistics/org/o1", fixture("stats_org_breakdown.json"),
     lambda c: c.statistics.org_breakdown("o1", date(2026, 11, 1), date(2026, 11, 2)),
     {"from": "2026-11-01", "to": "2026-11-02", "breakdown": "true"}, None),
    ("stats user", "GET", "/statistics/user", fixture("stats_rows.json"),
     lambda c: c.statistics.user(date(2026, 11, 1), date(2026, 11, 2)),
     {"from": "2026-11-01", "to": "2026-11-02"}, None),
    ("stats bundle usage", "GET", "/statistics/app/com.acme.app/bundle_usage",
     fixture("bundle_usage.json"),
     lambda c: c.statistics.bundle_usage("com.acme.app", date(2026, 11, 24), date(2026, 11, 26)),
     {"from": "2026-11-24", "to": "2026-11-26"}, None),
    ("stats native usage", "GET", "/statistics/app/com.acme.app/native_usage",
     fixture("native_usage.json"),
     lambda c: c.statistics.native_usage("com.acme.app", date(2026, 11, 25), date(2026, 11, 26)),
     {"from": "2026-11-25", "to": "2026-11-26"}, None),
    ("channel get", "GET", "/channel", fixture("channel.json"),
     lambda c: c.channels.get("com.acme.app", "production"),
     {"app_id": "com.acme.app", "channel": "production"}, None),
    ("channel list", "GET", "/channel", [fixture("channel.json")],
     lambda c: _drain(c.channels.list("com.acme.app")), {"app_id": "com.acme.app", "page": "0"},
     None),
    ("channel set", "POST", "/channel", OK,
     lambda c: c.channels.set("com.acme.app", "beta", version="1.4.0", public=False),
     {}, {"app_id": "com.acme.app", "channel": "beta", "version": "1.4.0", "public": False}),
    ("channel delete", "DELETE", "/channel", OK,
     lambda c: c.channels.delete("com.acme.app", "beta"),
     {"app_id": "com.acme.app", "channel": "beta"}, None),
    ("device get", "GET", "/device", fixture("device_page.json")["data"][0],
     lambda c: c.devices.get("com.acme.app", "d1"), {"app_id": "com.acme.app", "device_id": "d1"},
     None),
    ("device list since", "GET", "/device", {"data": [], "hasMore": False},
     lambda c: _drain(c.devices.list(
         "com.acme.app", updated_after=datetime(2026, 11, 20, 10, 0, 0, 123999, tzinfo=UTC),
         page_size=500)),
     {"app_id": "com.acme.app", "limit": "500", "updated_at": "2026-11-20T10:00:00.123Z"}, None),
    ("device set channel", "POST", "/device", OK,
     lambda c: c.devices.set_channel("com.acme.app", "d1", "beta"), {},
     {"app_id": "com.acme.app", "device_id": "d1", "channel": "beta"}),
    ("device unset channel", "DELETE", "/device", OK,
     lambda c: c.devices.unset_channel("com.acme.app", "d1"),
     {"app_id": "com.acme.app", "device_id": "d1"}, None),
    ("bundle list", "GET", "/bundle", [fixture("bundle.json")],
     lambda c: _drain(c.bundles.list("com.acme.app")), {"app_id": "com.acme.app", "page": "0"},
     None),
    ("bundle delete", "DELETE", "/bundle", OK,
     lambda c: c.bundles.delete("com.acme.app", "1.0.0"),
     {"app_id": "com.acme.app", "version": "1.0.0"}, None),
    ("bundle delete all", "DELETE", "/bundle", OK,
     lambda c: c.bundles.delete_all("com.acme.app"), {"app_id": "com.acme.app"}, None),
    ("bundle set channel", "PUT", "/bundle", {"status": "success", "message": "Bundle set"},
     lambda c: c.bundles.set_channel("com.acme.app", 812, 3), {},
     {"app_id": "com.acme.app", "version_id": 812, "channel_id": 3}),
    ("bundle metadata", "POST", "/bundle/metadata", OK,
     lambda c: c.bundles.set_metadata("com.acme.app", 812, comment="hotfix"), {},
     {"app_id": "com.acme.app", "version_id": 812, "comment": "hotfix"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "answer", "call", "query", "body"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_operation_request(
    api: respx.MockRouter,
    capgo: CapgoClient,
    method: str,
    path: str,
    answer: Any,
    call: Call,
    query: dict[str, str],
    body: dict[str, Any] | None,
) -> None:
    route = api.route(method=method, path=path).mock(return_value=httpx.Response(200, json=answer))
    await call(capgo)
    assert route.call_count == 1
    request = route.calls.last.request
    assert dict(request.url.params) == query
    if body is None:
        assert request.content == b""
    else:
        assert json.loads(request.content) == body
        assert request.headers["content-type"] == "application/json"
    # The raw key in both headers; never Bearer, never x-api-key alone.
    assert request.headers["capgkey"] == KEY
    assert request.headers["authorization"] == KEY
    assert "x-api-key" not in request.headers


async def test_path_parameters_are_escaped(api: respx.MockRouter, capgo: CapgoClient) -> None:
    route = api.get(path__startswith="/app/").respond(json={"app_id": "x"})
    await capgo.apps.get("com.acme.app/../apikey")
    assert route.calls.last.request.url.raw_path == b"/app/com.acme.app%2F..%2Fapikey"


async def test_every_area_is_reachable_from_the_client(capgo: CapgoClient) -> None:
    operations = {
        "organizations": {"list", "get", "create", "update", "delete"},
        "members": {"list", "invite", "remove"},
        "apikeys": {"list", "get", "create", "update", "delete"},
        "statistics": {"app", "org", "org_breakdown", "user", "bundle_usage", "native_usage"},
        "channels": {"list", "get", "set", "delete"},
        "devices": {"list", "pages", "get", "set_channel", "unset_channel"},
        "bundles": {"list", "delete", "delete_all", "set_channel", "create", "set_metadata"},
        "apps": {"list", "get", "create", "update", "delete"},
    }
    for area, names in operations.items():
        resource = getattr(capgo, area)
        assert names <= {n for n in dir(resource) if not n.startswith("_")}, area


async def test_statistics_refuse_an_empty_range(capgo: CapgoClient) -> None:
    with pytest.raises(ValueError, match="exclusive"):
        await capgo.statistics.app("com.acme.app", date(2026, 11, 2), date(2026, 11, 2))


async def test_bundle_delete_needs_a_version(capgo: CapgoClient) -> None:
    # An empty version would turn into "delete every unlinked bundle" on the server.
    with pytest.raises(ValueError, match="delete_all"):
        await capgo.bundles.delete("com.acme.app", "")
