"""/organization and /organization/members."""

from __future__ import annotations

import httpx

from capgo_exporter.sim import Simulator
from tests.sim.conftest import client_for


def _org_id(client: httpx.Client, index: int = 0) -> str:
    return str(client.get("/organization").json()[index]["id"])


def test_list_returns_the_nine_org_fields(client: httpx.Client) -> None:
    orgs = client.get("/organization").json()
    assert [o["name"] for o in orgs] == ["Acme Mobile", "Globex Apps"]
    assert set(orgs[0]) == {
        "id",
        "created_by",
        "created_at",
        "updated_at",
        "logo",
        "name",
        "management_email",
        "customer_id",
        "website",
    }


def test_query_string_page_is_invalid_body_but_json_page_works(client: httpx.Client) -> None:
    r = client.get("/organization", params={"page": "0"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_body")
    assert client.request("GET", "/organization", json={"page": 1}).json() == []
    assert len(client.request("GET", "/organization", json={"page": 0}).json()) == 2


def test_one_org_by_id_and_unknown_id(client: httpx.Client) -> None:
    org_id = _org_id(client)
    assert client.get("/organization", params={"orgId": org_id}).json()["id"] == org_id
    r = client.get("/organization", params={"orgId": "00000000-0000-4000-8000-000000000000"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_org_id")


def test_scoped_key_sees_only_its_org(sim: Simulator) -> None:
    with client_for(sim, "globex-key") as c:
        assert [o["name"] for o in c.get("/organization").json()] == ["Globex Apps"]


def test_members_include_pending_invitations(client: httpx.Client) -> None:
    members = client.get("/organization/members", params={"orgId": _org_id(client)}).json()
    assert set(members[0]) == {"uid", "email", "image_url", "role", "is_tmp"}
    assert members[0]["role"] == "org_super_admin"
    assert sum(m["is_tmp"] for m in members) == 2
    r = client.get("/organization/members")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_body")


def test_invite_with_legacy_alias_adds_a_pending_member(client: httpx.Client) -> None:
    org_id = _org_id(client)
    body = {"orgId": org_id, "email": "contractor@acme.example", "invite_type": "invite_admin"}
    assert client.post("/organization/members", json=body).json() == {"status": "ok"}
    members = client.get("/organization/members", params={"orgId": org_id}).json()
    invited = next(m for m in members if m["email"] == "contractor@acme.example")
    assert (invited["role"], invited["is_tmp"]) == ("org_admin", True)
    again = client.post("/organization/members", json=body).json()
    assert (again["error"], again["moreInfo"]["data"]) == (
        "error_inviting_user_to_organization",
        "ALREADY_INVITED",
    )


def test_invite_errors(client: httpx.Client, sim: Simulator) -> None:
    org_id = _org_id(client)
    assert (
        client.post("/organization/members", json={}).json()["error"] == "invalid_json_parse_body"
    )
    unknown = client.post(
        "/organization/members",
        json={"orgId": org_id, "email": "ghost@nowhere.example", "invite_type": "read"},
    ).json()
    assert unknown["moreInfo"]["data"] == "NO_EMAIL"
    with client_for(sim, "member-key") as member:
        r = member.post(
            "/organization/members",
            json={"orgId": org_id, "email": "contractor@acme.example", "invite_type": "read"},
        )
        assert (r.status_code, r.json()["error"]) == (400, "cannot_access_organization")


def test_remove_member_and_its_404s(client: httpx.Client) -> None:
    org_id = _org_id(client)
    members = client.get("/organization/members", params={"orgId": org_id}).json()
    target = next(m for m in members if m["role"] == "org_member")
    params = {"orgId": org_id, "email": target["email"]}
    assert client.delete("/organization/members", params=params).json() == {"status": "ok"}
    r = client.delete("/organization/members", params=params)
    assert (r.status_code, r.json()["error"]) == (404, "organization_member_not_found")
    r = client.delete("/organization/members", params={"orgId": org_id, "email": "x@y.example"})
    assert (r.status_code, r.json()["error"]) == (404, "user_not_found")
    assert client.delete("/organization/members").json()["error"] == "invalid_json_parse_body"


def test_create_update_delete_org(client: httpx.Client) -> None:
    created = client.post("/organization", json={"name": "New Co", "website": "newco.example"})
    new_id = created.json()["id"]
    assert (
        client.get("/organization", params={"orgId": new_id}).json()["website"]
        == "https://newco.example/"
    )
    updated = client.put("/organization", json={"orgId": new_id, "name": "Renamed Co"}).json()
    assert (updated["status"], updated["id"], updated["data"]["name"]) == (
        "Organization updated",
        new_id,
        "Renamed Co",
    )
    assert client.delete("/organization", params={"orgId": new_id}).json() == {"status": "ok"}
    assert client.get("/organization", params={"orgId": new_id}).status_code == 400
    assert client.post("/organization", json={"name": "ab"}).json()["error"] == "invalid_body"


def test_member_key_cannot_create_update_or_delete_orgs(
    sim: Simulator, client: httpx.Client
) -> None:
    org_id = _org_id(client)
    with client_for(sim, "member-key") as member:
        r = member.post("/organization", json={"name": "Nope Inc"})
        assert (r.status_code, r.json()["error"]) == (403, "permission_denied")
        r = member.delete("/organization", params={"orgId": org_id})
        assert (r.status_code, r.json()["error"]) == (403, "invalid_org_id")
        r = member.put("/organization", json={"orgId": org_id, "name": "Nope"})
        assert (r.status_code, r.json()["error"]) == (400, "cannot_access_organization")
