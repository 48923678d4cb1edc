"""/apikey (Capgo's public/apikey/): API keys may list and manage keys, never create them."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from capgo_exporter.sim.model import ApiKey
from capgo_exporter.sim.protocol import ApiError, bad_request, parse_body
from capgo_exporter.sim.routes.base import Ctx
from capgo_exporter.sim.timeutil import iso_z, parse_js_date

_ID_FORMAT = re.compile(
    r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9._:-]{8,256})$",
    re.IGNORECASE,
)
_UPDATABLE = ("name", "expires_at", "regenerate", "bindings", "global_permissions")


def public_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "user_id": key.user_id,
        "rbac_id": key.rbac_id,
        "created_at": iso_z(key.created_at),
        "updated_at": iso_z(key.updated_at),
        "expires_at": None if key.expires_at is None else iso_z(key.expires_at),
        "is_hashed_key": key.key_hash is not None,
        "global_permissions": list(key.global_permissions),
    }


def _denied(verb: str) -> ApiError:
    return ApiError(
        401,
        f"cannot_{verb}_apikey" if verb != "list" else "cannot_list_apikeys",
        "API key management requires RBAC org role management permission",
    )


def _managed_orgs(ctx: Ctx, verb: str) -> set[str]:
    orgs = {o.id for o in ctx.world.live_orgs() if ctx.principal.can("org.manage_apikeys", o.id)}
    if not orgs:
        raise _denied(verb)
    return orgs


def _visible(key: ApiKey, managed: set[str]) -> bool:
    return bool(key.bindings) and all(b.org_id in managed for b in key.bindings)


def _find(ctx: Ctx, raw: str, managed: set[str]) -> ApiKey | None:
    if not _ID_FORMAT.match(raw):
        raise bad_request("invalid_id_format", "Invalid id format")
    if raw.isdigit():
        key = ctx.world.key_by_id(int(raw))
    else:  # a plain key string; hashed keys cannot be found this way
        key = next((k for k in ctx.world.keys if k.key == raw), None)
    return key if key is not None and _visible(key, managed) else None


def list_keys(ctx: Ctx) -> Any:
    managed = _managed_orgs(ctx, "list")
    return [public_json(k) for k in ctx.world.keys if _visible(k, managed)]


def get_key(ctx: Ctx) -> Any:
    managed = _managed_orgs(ctx, "get")
    key = _find(ctx, ctx.path["id"], managed)
    if key is None:
        raise ApiError(404, "failed_to_get_apikey", "Failed to get apikey")
    return public_json(key)


def create_key(ctx: Ctx) -> Any:
    parse_body(ctx.request)
    raise bad_request("cannot_create_apikey", "API keys cannot create other API keys")


def update_key(ctx: Ctx) -> Any:
    managed = _managed_orgs(ctx, "update")
    body = parse_body(ctx.request)
    if not any(field in body for field in _UPDATABLE):
        raise bad_request("no_valid_fields_provided_for_update", "No valid fields provided")
    raw = ctx.path.get("id") or str(body.get("id", ""))
    key = _find(ctx, raw, managed)
    if key is None:
        raise ApiError(
            404, "api_key_not_found_or_access_denied", "API key not found or access denied"
        )
    if key.id == ctx.principal.key.id or "bindings" in body or "global_permissions" in body:
        raise _denied("update")
    if "name" in body and not isinstance(body["name"], str):
        raise bad_request("name_must_be_a_string", "Name must be a string")
    if "regenerate" in body and not isinstance(body["regenerate"], bool):
        raise bad_request("regenerate_must_be_boolean", "Regenerate must be a boolean")
    world = ctx.world
    if "expires_at" in body:
        expires = body["expires_at"]
        parsed = parse_js_date(expires) if isinstance(expires, str) else None
        if expires is not None and (parsed is None or parsed <= world.now()):
            raise bad_request("invalid_expiration_date", "Invalid expiration date")
        key.expires_at = parsed
    if "name" in body:
        key.name = body["name"]
    key.updated_at = world.now()
    if not body.get("regenerate"):
        return public_json(key)
    plain = world.new_uuid()
    if key.key_hash is not None:
        key.key_hash = hashlib.sha256(plain.encode()).hexdigest()
    else:
        key.key = plain
    full = public_json(key)
    full.update(key=plain, key_hash=key.key_hash)
    return full


def delete_key(ctx: Ctx) -> Any:
    managed = _managed_orgs(ctx, "delete")
    key = _find(ctx, ctx.path["id"], managed)
    if key is None:
        raise ApiError(404, "api_key_not_found", "API key not found")
    if key.id == ctx.principal.key.id:
        raise _denied("delete")
    ctx.world.keys.remove(key)
    return {"status": "ok"}
