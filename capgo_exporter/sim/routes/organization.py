"""/organization and /organization/members (Capgo's public/organization/)."""

from __future__ import annotations

import re
from typing import Any

from capgo_exporter.sim.model import Binding, Member, Org
from capgo_exporter.sim.protocol import ApiError, bad_request, body_or_query, schema_error
from capgo_exporter.sim.rbac import INVITE_ALIASES, ROLE_RANK
from capgo_exporter.sim.routes.base import PAGE_SIZE, Ctx, org_with
from capgo_exporter.sim.timeutil import iso_z

_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+/?$", re.IGNORECASE)


def org_json(org: Org) -> dict[str, Any]:
    """Exactly the 9 fields the response schema keeps."""
    return {
        "id": org.id,
        "created_by": org.created_by,
        "created_at": iso_z(org.created_at),
        "updated_at": iso_z(org.updated_at),
        "logo": None,
        "name": org.name,
        "management_email": org.management_email,
        "customer_id": org.customer_id,
        "website": org.website,
    }


def _no_org_access() -> ApiError:
    return bad_request("cannot_access_organization", "You can't access this organization")


def _website(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise schema_error("website", "Expected string")
    if value.startswith(("http://", "https://")):
        host = value.split("://", 1)[1]
        if "@" in host or not host:
            raise schema_error("website", "Invalid url")
        return value if value.endswith("/") else value + "/"
    if _DOMAIN.match(value):
        return f"https://{value.rstrip('/')}/"
    raise schema_error("website", "Invalid url")


def get_organization(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    page = params.get("page")
    # The schema wants a number, so any query-string page (a string) fails validation.
    if page is not None and (isinstance(page, bool) or not isinstance(page, int)):
        raise schema_error("page", "Expected number, received string")
    if params.get("orgId"):
        error = bad_request("invalid_org_id", "You can't access this organization")
        return org_json(org_with(ctx, params["orgId"], "org.read", error))
    visible = [o for o in ctx.world.live_orgs() if ctx.principal.can("org.read", o.id)]
    start = (page or 0) * PAGE_SIZE
    return [org_json(o) for o in visible[start : start + PAGE_SIZE]]


def post_organization(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    name = params.get("name")
    if not isinstance(name, str) or len(name) < 3:
        raise schema_error("name", "String must contain at least 3 character(s)")
    website = _website(params.get("website"))
    key = ctx.principal.key
    admin = any(
        b.role in ("org_admin", "org_super_admin") and b.app_id is None for b in key.bindings
    )
    if "org.create" not in key.global_permissions or not admin:
        raise ApiError(403, "permission_denied", "You don't have permission to create orgs")
    world = ctx.world
    now = world.now()
    org = Org(
        index=len(world.orgs),
        id=world.new_uuid(),
        name=name,
        created_by=key.user_id,
        created_at=now,
        updated_at=now,
        management_email=str(params.get("email") or "alex.morgan@example.com"),
        website=website,
        customer_id=None,
        paying=True,
    )
    org.members.append(Member(uid=key.user_id, role="org_super_admin", is_tmp=False))
    world.orgs.append(org)
    key.bindings.append(Binding("org_super_admin", org.id))
    return {"id": org.id}


def put_organization(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    if not params.get("orgId"):
        raise schema_error("orgId", "Required")
    org = org_with(ctx, params["orgId"], "org.update_settings", _no_org_access())
    if "name" in params:
        if not isinstance(params["name"], str) or len(params["name"]) < 3:
            raise schema_error("name", "String must contain at least 3 character(s)")
        org.name = params["name"]
    if "website" in params:
        org.website = _website(params["website"])
    if isinstance(params.get("management_email"), str):
        org.management_email = params["management_email"]
    org.updated_at = ctx.world.now()
    return {"status": "Organization updated", "id": org.id, "data": org_json(org)}


def delete_organization(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    if not params.get("orgId"):
        raise bad_request("missing_org_id", "Missing orgId")
    error = ApiError(403, "invalid_org_id", "You can't delete this organization")
    org = org_with(ctx, params["orgId"], "org.delete", error)
    org.deleted = True
    for app in ctx.world.live_apps(org.id):
        ctx.world.delete_app(app)
    return {"status": "ok"}


def _email_of(ctx: Ctx) -> dict[str, str]:
    return {u.uid: u.email for u in ctx.world.users.values()}


def get_members(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    if not params.get("orgId"):
        raise schema_error("orgId", "Required")
    org = org_with(ctx, params["orgId"], "org.read_members", _no_org_access())
    emails = _email_of(ctx)
    return [
        {"uid": m.uid, "email": emails[m.uid], "image_url": "", "role": m.role, "is_tmp": m.is_tmp}
        for m in org.members
    ]


def post_members(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    if not params.get("orgId"):
        raise schema_error("orgId", "Required")
    if not isinstance(params.get("email"), str) or "@" not in params["email"]:
        raise schema_error("email", "Invalid email")
    role = INVITE_ALIASES.get(str(params.get("invite_type")))
    if role is None:
        raise schema_error("invite_type", "Invalid enum value")
    org = org_with(ctx, params["orgId"], "org.invite_user", _no_org_access())
    user = ctx.world.users.get(params["email"])

    def refused(reason: str) -> ApiError:
        return bad_request(
            "error_inviting_user_to_organization",
            "Error inviting user to organization",
            data=reason,
        )

    if user is None:
        raise refused("NO_EMAIL")
    if any(m.uid == user.uid for m in org.members):
        raise refused("ALREADY_INVITED")
    org.members.append(Member(uid=user.uid, role=role, is_tmp=True))
    return {"status": "ok"}


def delete_members(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    if not params.get("orgId") or not params.get("email"):
        raise schema_error("orgId" if not params.get("orgId") else "email", "Required")
    org = org_with(ctx, params["orgId"], "org.update_user_roles", _no_org_access())
    user = ctx.world.users.get(str(params["email"]))
    if user is None:
        raise ApiError(404, "user_not_found", "User not found")
    member = next((m for m in org.members if m.uid == user.uid), None)
    if member is None:
        raise ApiError(404, "organization_member_not_found", "Organization member not found")
    caller_rank = max(
        (
            ROLE_RANK.get(b.role, 0)
            for b in ctx.principal.key.bindings
            if b.org_id == org.id and b.app_id is None
        ),
        default=0,
    )
    if ROLE_RANK.get(member.role, 0) > caller_rank:
        raise ApiError(
            403, "cannot_delete_higher_priority_role", "Cannot delete a member with a higher role"
        )
    supers = [m for m in org.members if m.role == "org_super_admin" and not m.is_tmp]
    if member in supers and len(supers) == 1:
        raise bad_request("CANNOT_REMOVE_LAST_SUPER_ADMIN", "Cannot remove the last super admin")
    org.members.remove(member)
    return {"status": "ok"}
