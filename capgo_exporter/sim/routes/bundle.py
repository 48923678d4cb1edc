"""/bundle and /bundle/metadata (Capgo's public/bundle/), including the page quirk: an empty page
is 400 ``cannot_get_bundle``, or ``[]`` as newer Capgo answers it."""

from __future__ import annotations

import re
from typing import Any

from capgo_exporter.sim.model import Bundle
from capgo_exporter.sim.protocol import bad_request, body_or_query
from capgo_exporter.sim.routes.base import (
    Ctx,
    app_id_param,
    app_with,
    no_app_access,
    page_window,
    require,
)
from capgo_exporter.sim.state import RESERVED_BUNDLES
from capgo_exporter.sim.timeutil import iso_z

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)


def bundle_json(b: Bundle) -> dict[str, Any]:
    return {
        "id": b.id,
        "app_id": b.app_id,
        "name": b.name,
        "checksum": b.checksum,
        "created_at": iso_z(b.created_at),
        "updated_at": iso_z(b.updated_at),
        "deleted": b.deleted,
        "deleted_at": None if b.deleted_at is None else iso_z(b.deleted_at),
        "external_url": b.external_url,
        "r2_path": None if b.external_url else f"orgs/{b.owner_org}/apps/{b.app_id}/{b.name}.zip",
        "storage_provider": "external" if b.external_url else "r2",
        "session_key": None,
        "key_id": None,
        "link": b.link,
        "comment": b.comment,
        "manifest": None,
        "manifest_count": 0,
        "min_update_version": None,
        "native_packages": [],
        "cli_version": "7.2.0",
        "owner_org": b.owner_org,
        "user_id": b.user_id,
        "created_by_apikey_rbac_id": None,
    }


def get_bundle(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    app_id = app_id_param(params)
    denied = bad_request("cannot_get_bundle", "You can't access this app")
    app = app_with(ctx, app_id, "app.read_bundles", denied)
    start, stop = page_window(params.get("page"))
    rows = ctx.world.live_bundles(app.app_id)[start:stop]
    if not rows and not ctx.world.config.newer_capgo:
        raise bad_request("cannot_get_bundle", "Cannot get bundle")  # not [] (newer Capgo: [])
    return [bundle_json(b) for b in rows]


def delete_bundle(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    app_id = app_id_param(params)
    app = app_with(
        ctx,
        app_id,
        "bundle.delete",
        bad_request("cannot_delete_bundle", "You can't delete bundles of this app"),
    )
    world = ctx.world
    linked = world.linked_bundle_ids(app.app_id)
    now = world.now()
    if params.get("version"):
        bundle = world.bundle_by_name(app.app_id, str(params["version"]))
        if bundle is None:
            raise bad_request("cannot_delete_version", "Cannot delete version")
        if bundle.id in linked:
            raise bad_request(
                "cannot_delete_linked_version", "Cannot delete a version linked to a channel"
            )
        targets = [bundle]
    else:
        # Without `version`, every bundle not used by a channel goes.
        targets = [
            b
            for b in world.live_bundles(app.app_id)
            if b.id not in linked and b.name not in RESERVED_BUNDLES
        ]
    for bundle in targets:
        bundle.deleted, bundle.deleted_at, bundle.updated_at = True, now, now
    return {"status": "ok"}


def post_bundle(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    app_id = app_id_param(params)
    require(params, "version", "external_url", "checksum")
    version, url = str(params["version"]), str(params["external_url"])
    if not _SEMVER.match(version):
        raise bad_request("invalid_version_format", "Version must be semver")
    if not url.startswith("https://"):
        raise bad_request("invalid_protocol", "External URL must use https")
    app = app_with(
        ctx,
        app_id,
        "app.upload_bundle",
        bad_request("cannot_create_bundle", "You can't create bundles for this app"),
    )
    world = ctx.world
    if any(b.name == version for b in world.bundles[app.app_id]):
        raise bad_request("version_already_exists", "Version already exists")
    now = world.now()
    bundle = Bundle(
        id=world.new_id(),
        app_id=app.app_id,
        name=version,
        created_at=now,
        updated_at=now,
        size=0,
        checksum=str(params["checksum"]),
        owner_org=app.owner_org,
        user_id=ctx.principal.key.user_id,
        external_url=url,
    )
    world.bundles[app.app_id].append(bundle)
    return {"status": "success", "bundle": bundle_json(bundle)}


def put_bundle(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    if not all(params.get(n) for n in ("app_id", "version_id", "channel_id")):
        raise bad_request("missing_required_fields", "Missing required fields")
    app = app_with(ctx, app_id_param(params), "channel.promote_bundle", no_app_access())
    world = ctx.world
    bundle = world.bundle_by_id(app.app_id, _int(params["version_id"]))
    if bundle is None or bundle.deleted:
        raise bad_request("cannot_find_version", "Cannot find version")
    channel = next(
        (c for c in world.channels[app.app_id] if c.id == _int(params["channel_id"])), None
    )
    if channel is None:
        raise bad_request("cannot_find_channel", "Cannot find channel")
    channel.version, channel.updated_at = bundle.id, world.now()
    return {"status": "success", "message": f"Bundle {bundle.name} set to channel {channel.name}"}


def post_metadata(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    if not params.get("app_id") or not params.get("version_id"):
        raise bad_request("missing_required_fields", "Missing required fields")
    app = app_with(
        ctx,
        app_id_param(params),
        "app.upload_bundle",
        bad_request("cannot_update_bundle_metadata", "You can't update this app"),
    )
    bundle = ctx.world.bundle_by_id(app.app_id, _int(params["version_id"]))
    if bundle is None or bundle.deleted:
        raise bad_request("cannot_find_version", "Cannot find version")
    if "link" not in params and "comment" not in params:
        raise bad_request("no_fields_to_update", "No fields to update")
    bundle.link = params.get("link", bundle.link)
    bundle.comment = params.get("comment", bundle.comment)
    bundle.updated_at = ctx.world.now()
    return {"status": "ok"}


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None
