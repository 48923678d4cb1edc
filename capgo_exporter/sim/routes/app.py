"""/app: list, get, create, update, delete (Capgo's public/app/)."""

from __future__ import annotations

import re
from typing import Any

from capgo_exporter.sim.generate import create_app
from capgo_exporter.sim.model import App
from capgo_exporter.sim.protocol import ApiError, bad_request, body_or_query
from capgo_exporter.sim.routes.base import (
    PAGE_SIZE,
    Ctx,
    app_id_param,
    app_with,
    org_with,
    require,
)
from capgo_exporter.sim.state import RESERVED_BUNDLES, World
from capgo_exporter.sim.timeutil import iso_z

_MAX_RETENTION = 63113904
_SETTINGS = (
    "name",
    "expose_metadata",
    "allow_device_custom_id",
    "need_onboarding",
    "existing_app",
    "ios_store_url",
    "android_store_url",
)


def app_json(world: World, a: App) -> dict[str, Any]:
    uploads = [b for b in world.live_bundles(a.app_id) if b.name not in RESERVED_BUNDLES]
    return {
        "id": a.id,
        "app_id": a.app_id,
        "name": a.name,
        "owner_org": a.owner_org,
        "user_id": a.user_id,
        "icon_url": a.icon_url,
        "retention": a.retention,
        "default_upload_channel": a.default_upload_channel,
        "last_version": uploads[0].name if uploads else None,
        "created_at": iso_z(a.created_at),
        "updated_at": iso_z(a.updated_at),
        "expose_metadata": a.expose_metadata,
        "allow_device_custom_id": a.allow_device_custom_id,
        "need_onboarding": a.need_onboarding,
        "existing_app": a.existing_app,
        "ios_store_url": a.ios_store_url,
        "android_store_url": a.android_store_url,
        "transfer_history": [],
    }


def _parse_int(value: str | None, default: int) -> int:
    """JavaScript parseInt: leading digits, else the default (NaN falls back here)."""
    match = re.match(r"^\s*(\d+)", value or "")
    return int(match.group(1)) if match else default


def _cannot_access() -> ApiError:
    return ApiError(401, "cannot_access_app", "You can't access this app")


def list_apps(ctx: Ctx) -> Any:
    params = ctx.request.query_params()
    page, limit = _parse_int(params.get("page"), 0), _parse_int(params.get("limit"), PAGE_SIZE)
    org_id = params.get("org_id")
    if org_id is not None:
        denied = bad_request(
            "user_does_not_have_access_to_this_organization",
            "You don't have access to this organization",
        )
        org_with(ctx, org_id, "org.read", denied)
    apps = [
        a for a in ctx.world.live_apps(org_id) if ctx.principal.can("app.read", a.owner_org, a.id)
    ]
    return [app_json(ctx.world, a) for a in apps[page * limit : (page + 1) * limit]]


def get_app(ctx: Ctx) -> Any:
    return app_json(ctx.world, app_with(ctx, ctx.path["id"], "app.read", _cannot_access()))


def post_app(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    require(params, "app_id", "name", "owner_org")
    app_id = app_id_param(params)
    org = ctx.world.org(str(params["owner_org"]))
    if org is None or not ctx.principal.can("org.create_app", org.id):
        raise ApiError(403, "cannot_access_organization", "You can't access this organization")
    if any(a.app_id == app_id for a in ctx.world.apps):
        raise ApiError(409, "app_id_already_exists", "App ID already exists")
    return app_json(ctx.world, create_app(ctx.world, org, app_id, str(params["name"])))


def put_app(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    app = app_with(ctx, ctx.path["id"], "app.update_settings", _cannot_access())
    if "retention" in params:
        retention = params["retention"]
        if not isinstance(retention, int) or retention < 0:
            raise bad_request("retention_to_small", "Retention must be >= 0")
        if retention >= _MAX_RETENTION:
            raise bad_request("retention_to_big", "Retention is too big")
        app.retention = retention
    for name in _SETTINGS:
        if name in params:
            setattr(app, name, params[name])
    app.updated_at = ctx.world.now()
    return app_json(ctx.world, app)


def delete_app(ctx: Ctx) -> Any:
    denied = bad_request("cannot_delete_app", "You can't delete this app")
    app = app_with(ctx, ctx.path["id"], "app.delete", denied)
    ctx.world.delete_app(app)
    return {"status": "ok"}
