"""Each admin command sends exactly the request Capgo expects (respx): method, path, query
string, JSON body, and the key in ``capgkey`` — and prints what Capgo answered."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from tests.api.conftest import fixture

from .conftest import KEY, Admin

BASE = "https://api.capgo.test"
OK = {"status": "ok"}
APP = "com.acme.app"
CHANNEL = {"id": 34, "name": "beta", "version": {"id": 12, "name": "1.2.3"}}
BUNDLE = {"id": 12, "name": "1.2.3", "app_id": APP}
DEVICE = {"device_id": "dev1", "app_id": APP, "platform": "ios", "version_name": "1.2.3"}

# (argv, method, path, expected query, expected JSON body or None, Capgo's answer)
CASES: list[tuple[list[str], str, str, dict[str, str], Any, Any]] = [
    (["org", "list"], "GET", "/organization", {}, None, [fixture("organization.json")]),
    (["org", "get", "o1"], "GET", "/organization", {"orgId": "o1"}, None,
     fixture("organization.json")),
    (["org", "create", "Acme", "--website", "acme.test", "--estimated-mau", "500"],
     "POST", "/organization", {}, {"name": "Acme", "website": "acme.test", "estimatedMau": 500},
     {"id": "o9"}),
    (["org", "update", "o1", "--name", "New", "--email", "ops@acme.test",
      "--require-apikey-expiration", "--max-apikey-expiration-days", "30", "--no-enforce-2fa"],
     "PUT", "/organization", {},
     {"orgId": "o1", "name": "New", "management_email": "ops@acme.test",
      "require_apikey_expiration": True, "max_apikey_expiration_days": 30,
      "enforcing_2fa": False},
     {"status": "Organization updated", "id": "o1"}),
    (["org", "delete", "o1", "--yes"], "DELETE", "/organization", {"orgId": "o1"}, None, OK),
    (["members", "list", "o1"], "GET", "/organization/members", {"orgId": "o1"}, None,
     fixture("member.json")),
    (["members", "invite", "o1", "x@acme.test", "--role", "org_admin"],
     "POST", "/organization/members", {},
     {"orgId": "o1", "email": "x@acme.test", "invite_type": "org_admin"}, OK),
    (["members", "remove", "o1", "x@acme.test", "--yes"], "DELETE", "/organization/members",
     {"orgId": "o1", "email": "x@acme.test"}, None, OK),
    (["apikey", "list"], "GET", "/apikey", {}, None, [fixture("apikey_public.json")]),
    (["apikey", "get", "10"], "GET", "/apikey/10", {}, None, fixture("apikey_public.json")),
    (["apikey", "create", "ci", "--org-id", "o1", "--role", "app_uploader", "--app-uuid", "a1",
      "--hashed", "--expires-at", "2027-01-01"],
     "POST", "/apikey", {},
     {"name": "ci", "hashed": True, "expires_at": "2027-01-01T00:00:00+00:00",
      "bindings": [{"role_name": "app_uploader", "scope_type": "app", "org_id": "o1",
                    "app_id": "a1"}]},
     {**fixture("apikey_public.json"), "key": "new-plain-key"}),
    (["apikey", "update", "10", "--name", "ci2", "--no-expiry"], "PUT", "/apikey/10", {},
     {"name": "ci2", "expires_at": None}, fixture("apikey_public.json")),
    (["apikey", "update", "10", "--expires-at", "2027-02-03T04:05:06Z"], "PUT", "/apikey/10",
     {}, {"expires_at": "2027-02-03T04:05:06+00:00"}, fixture("apikey_public.json")),
    (["apikey", "update", "10", "--regenerate", "--yes"], "PUT", "/apikey/10", {},
     {"regenerate": True}, {**fixture("apikey_public.json"), "key": "regenerated-value"}),
    (["apikey", "delete", "10", "--yes"], "DELETE", "/apikey/10", {}, None, OK),
    (["app", "list", "--org-id", "o1"], "GET", "/app",
     {"page": "0", "limit": "50", "org_id": "o1"}, None, [{"app_id": APP}]),
    (["app", "get", APP], "GET", f"/app/{APP}", {}, None, {"app_id": APP}),
    (["channel", "list", APP], "GET", "/channel", {"app_id": APP, "page": "0"}, None, [CHANNEL]),
    (["channel", "get", APP, "beta"], "GET", "/channel", {"app_id": APP, "channel": "beta"},
     None, CHANNEL),
    (["channel", "set", APP, "beta", "--bundle", "1.2.3", "--no-public", "--ios",
      "--no-android", "--disable-auto-update", "minor", "--self-assign", "--no-emulator",
      "--dev", "--prod", "--rollout-bundle", "1.3.0", "--rollout-percentage", "12.5",
      "--rollout-enable", "--rollout-pause", "--pause-reason", "crashes"],
     "POST", "/channel", {},
     {"app_id": APP, "channel": "beta", "version": "1.2.3", "public": False, "ios": True,
      "android": False, "disableAutoUpdate": "minor", "allow_device_self_set": True,
      "allow_emulator": False, "allow_dev": True, "allow_prod": True,
      "rolloutVersion": "1.3.0", "rolloutPercentage": 12.5, "rolloutEnabled": True,
      "rolloutPaused": True, "rolloutPauseReason": "crashes"}, OK),
    (["channel", "delete", APP, "beta", "--yes"], "DELETE", "/channel",
     {"app_id": APP, "channel": "beta"}, None, OK),
    (["device", "list", APP, "--updated-since", "2026-11-01T10:00:00Z"], "GET", "/device",
     {"app_id": APP, "limit": "50000", "updated_at": "2026-11-01T10:00:00.000Z"}, None,
     {"data": [DEVICE], "hasMore": False}),
    (["device", "list", APP, "--custom-id", " user-7 "], "GET", "/device",
     {"app_id": APP, "limit": "50000", "custom_id": "user-7"}, None,
     {"data": [DEVICE | {"custom_id": "user-7"}], "hasMore": False}),
    (["channel", "current-bundle", APP, "beta"], "GET", "/channel/current-bundle",
     {"app_id": APP, "channel": "beta"}, None,
     {"bundle_name": "1.2.3", "bundle_id": 12, "min_update_version": None,
      "native_packages": [], "disable_auto_update": "major"}),
    (["device", "get", APP, "dev1"], "GET", "/device", {"app_id": APP, "device_id": "dev1"},
     None, DEVICE),
    (["device", "set-channel", APP, "dev1", "beta"], "POST", "/device", {},
     {"app_id": APP, "device_id": "dev1", "channel": "beta"}, OK),
    (["device", "unset-channel", APP, "dev1"], "DELETE", "/device",
     {"app_id": APP, "device_id": "dev1"}, None, OK),
    (["bundle", "list", APP], "GET", "/bundle", {"app_id": APP, "page": "0"}, None, [BUNDLE]),
    (["bundle", "delete", APP, "1.2.3", "--yes"], "DELETE", "/bundle",
     {"app_id": APP, "version": "1.2.3"}, None, OK),
    (["bundle", "set-channel", APP, "12", "34"], "PUT", "/bundle", {},
     {"app_id": APP, "version_id": 12, "channel_id": 34},
     {"status": "success", "message": "Bundle 1.2.3 set to channel beta"}),
    (["stats", "app", APP, "--from", "2026-11-01", "--to", "2026-11-02", "--daily"], "GET",
     f"/statistics/app/{APP}", {"from": "2026-11-01", "to": "2026-11-03", "noAccumulate": "true"},
     None, fixture("stats_rows.json")),
    (["stats", "org", "o1", "--from", "2026-11-01", "--to", "2026-11-02"], "GET",
     "/statistics/org/o1", {"from": "2026-11-01", "to": "2026-11-03"}, None,
     fixture("stats_rows.json")),
    (["stats", "user", "--from", "2026-11-01", "--to", "2026-11-02"], "GET", "/statistics/user",
     {"from": "2026-11-01", "to": "2026-11-03"}, None, fixture("stats_rows.json")),
]  # fmt: skip


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[respx.MockRouter]:
    monkeypatch.setenv("CAPGO_API_URL", BASE)
    monkeypatch.setenv("CAPGO_API_KEY", KEY)
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        yield router


@pytest.mark.parametrize(
    ("argv", "method", "path", "query", "body", "answer"),
    CASES,
    ids=[" ".join(case[0][:2]) + f" {n}" for n, case in enumerate(CASES)],
)
def test_the_exact_request(
    api: respx.MockRouter,
    admin: Admin,
    argv: list[str],
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    answer: Any,
) -> None:
    route = api.request(method, path).respond(200, json=answer)
    if argv[:2] == ["channel", "set"]:  # read first, to say which devices the change moves
        api.get("/channel", params={"app_id": APP, "channel": "beta"}).respond(200, json=CHANNEL)
    result = admin.ok(*argv, "--output", "json")
    assert route.call_count == 1
    request = route.calls.last.request
    assert dict(request.url.params) == query
    assert (json.loads(request.content) if request.content else None) == body
    assert request.headers["capgkey"] == KEY
    assert result.out.strip(), "every command prints Capgo's answer"


def test_a_channel_name_is_resolved_to_its_id_for_set_channel(
    api: respx.MockRouter, admin: Admin
) -> None:
    api.get("/channel", params={"app_id": APP, "channel": "beta"}).respond(200, json=CHANNEL)
    put = api.put("/bundle").respond(200, json={"status": "success"})
    admin.ok("bundle", "set-channel", APP, "12", "beta")
    assert json.loads(put.calls.last.request.content)["channel_id"] == 34


def test_an_api_error_is_one_line_with_code_message_and_request_id(
    api: respx.MockRouter, admin: Admin
) -> None:
    api.get("/channel").respond(
        400,
        json={"error": "cannot_find_version", "message": "Cannot find channel", "moreInfo": {}},
        headers={"x-request-id": "req-42"},
    )
    result = admin("channel", "get", APP, "nope")
    assert result.code == 1
    assert result.out == ""
    assert result.err.count("\n") == 1
    for part in ("cannot_find_version", "Cannot find channel", "req-42", "HTTP 400"):
        assert part in result.err


def test_a_device_that_fails_stops_the_list_and_says_where(
    api: respx.MockRouter, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = {"error": "cannot_access_channel", "message": "You can't access this channel"}
    post = api.post("/device").mock(
        side_effect=[httpx.Response(200, json=OK)] * 2 + [httpx.Response(400, json=refused)]
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("d1\nd2\nd3\nd4\n"))
    result = admin("device", "set-channel", APP, "-", "beta", "--output", "json")
    assert result.code == 1
    sent = [json.loads(call.request.content)["device_id"] for call in post.calls]
    assert sent == ["d1", "d2", "d3"]  # d4 never sent
    assert result.out.splitlines() == [json.dumps(OK, separators=(",", ":"))] * 2
    assert result.err.splitlines()[0] == "stopped at device d3: 2 of 4 done"
    assert "cannot_access_channel" in result.err.splitlines()[1]


def test_apikey_create_explains_why_capgo_refuses(api: respx.MockRouter, admin: Admin) -> None:
    api.post("/apikey").respond(400, json=fixture("error_cannot_create_apikey.json"))
    result = admin("apikey", "create", "ci", "--org-id", "o1")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "console login" in result.err
    assert "cannot_create_apikey" not in result.err  # explained, not dumped


def test_a_regenerated_key_is_shown_once_in_the_table(api: respx.MockRouter, admin: Admin) -> None:
    answer = {**fixture("apikey_public.json"), "key": "regenerated-value"}
    api.put("/apikey/10").respond(200, json=answer)
    result = admin.ok("apikey", "update", "10", "--regenerate", "--yes", "-o", "table")
    assert "regenerated-value" in result.out
    assert "shown once" in result.out


def test_a_custom_id_capgo_would_refuse_is_a_usage_error(
    api: respx.MockRouter, admin: Admin
) -> None:
    result = admin("device", "list", APP, "--custom-id", "x" * 37)
    assert result.code == 2
    assert "1 to 36 characters" in result.err


def test_current_bundle_on_an_older_capgo_reads_the_channel(
    api: respx.MockRouter, admin: Admin
) -> None:
    api.get("/channel/current-bundle").respond(
        404, json={"error": "not_found", "message": "Not Found", "moreInfo": {}}
    )
    api.get("/channel", params={"app_id": APP, "channel": "beta"}).respond(
        200, json=CHANNEL | {"disableAutoUpdate": "minor", "updatePackage": {"any": "shape"}}
    )
    result = admin.ok("channel", "current-bundle", APP, "beta", "-o", "json")
    assert result.json() == {
        "bundle_name": "1.2.3",
        "bundle_id": 12,
        "disable_auto_update": "minor",
    }
    assert "no GET /channel/current-bundle" in result.err
