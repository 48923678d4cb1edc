"""/channel (Capgo's public/channel/), including the page and 500 quirks."""

from __future__ import annotations

from typing import Any

from capgo_exporter.api.channels import AUTO_UPDATE_LIMITS, BOOLEAN_SETTINGS
from capgo_exporter.sim.model import App, Bundle, Channel
from capgo_exporter.sim.protocol import (
    ApiError,
    bad_request,
    body_or_query,
    parse_body,
    schema_error,
    unknown_error,
)
from capgo_exporter.sim.routes.base import Ctx, app_id_param, app_with, no_app_access, page_window
from capgo_exporter.sim.state import World
from capgo_exporter.sim.timeutil import iso_z


def _ref(bundle: Bundle | None) -> dict[str, Any] | None:
    return None if bundle is None else {"name": bundle.name, "id": bundle.id}


def channel_json(world: World, c: Channel) -> dict[str, Any]:
    version = world.bundle_by_id(c.app_id, c.version)
    rollout = world.bundle_by_id(c.app_id, c.rollout_version)
    newer = {"updatePackage": None} if world.config.newer_capgo else {}
    return newer | {
        "id": c.id,
        "created_at": iso_z(c.created_at),
        "name": c.name,
        "app_id": c.app_id,
        "created_by": c.created_by,
        "updated_at": iso_z(c.updated_at),
        "public": c.public,
        "allow_device_self_set": c.allow_device_self_set,
        "allow_emulator": c.allow_emulator,
        "allow_device": c.allow_device,
        "allow_dev": c.allow_dev,
        "allow_prod": c.allow_prod,
        "rollout_version": c.rollout_version,
        "rollout_id": None,
        "version": _ref(version),
        "rollout_version_info": _ref(rollout),
        "disableAutoUpdateUnderNative": c.disable_auto_update_under_native,
        "disableAutoUpdate": c.disable_auto_update,
        "rolloutPercentageBps": c.rollout_percentage_bps,
        "rolloutEnabled": c.rollout_enabled,
        "rolloutPausedAt": None if c.rollout_paused_at is None else iso_z(c.rollout_paused_at),
        "rolloutPauseReason": c.rollout_pause_reason,
        "rolloutCacheTtlSeconds": c.rollout_cache_ttl_seconds,
        "autoPauseEnabled": False,
        "autoPauseWindowMinutes": 60,
        "autoPauseFailureRateBps": 500,
        "autoPauseConfidence": 0.95,
        "autoPauseMinAttempts": 100,
        "autoPauseMinFailures": 10,
        "autoPauseAction": "pause",
        "autoPauseCooldownMinutes": 60,
        "autoPauseLastTriggeredAt": None,
        "autoPauseLastCheckedAt": None,
    }


def get_channel(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    app = app_with(ctx, app_id_param(params), "app.read_channels", no_app_access())
    if params.get("channel"):
        channel = ctx.world.channel(app.app_id, str(params["channel"]))
        if channel is None:
            # (sic) the real handler reports the channel lookup as a version error.
            raise bad_request("cannot_find_version", "Cannot find channel")
        return channel_json(ctx.world, channel)
    start, stop = page_window(params.get("page"))
    channels = sorted(ctx.world.channels[app.app_id], key=lambda c: (c.created_at, c.id))
    return [channel_json(ctx.world, c) for c in channels[start:stop]]


def current_bundle(ctx: Ctx) -> Any:
    """Newer Capgo's GET /channel/current-bundle; an older one has no such route (404)."""
    if not ctx.world.config.newer_capgo:
        raise ApiError(404, "not_found", "Not found")
    params = body_or_query(ctx.request)
    app = app_with(ctx, app_id_param(params), "channel.read", no_app_access())
    channel = ctx.world.channel(app.app_id, str(params.get("channel") or ""))
    if channel is None:
        raise bad_request("cannot_find_channel", "Cannot find channel")
    bundle = ctx.world.bundle_by_id(app.app_id, channel.version)
    return {
        "bundle_name": bundle.name if bundle else None,
        "bundle_id": bundle.id if bundle else None,
        "min_update_version": None,
        "native_packages": [],
        "disable_auto_update": channel.disable_auto_update,
    }


def _field(body: dict[str, Any], *names: str) -> Any:
    return next((body[n] for n in names if n in body), None)


def _apply_rollout(ctx: Ctx, app: App, channel: Channel, body: dict[str, Any]) -> None:
    target = _field(body, "rolloutVersion", "rollout_version")
    if target is not None:
        bundle = ctx.world.bundle_by_name(app.app_id, str(target)) or ctx.world.bundle_by_id(
            app.app_id, target
        )
        if bundle is None or bundle.deleted:
            raise bad_request("cannot_find_version", "Cannot find rollout version")
        channel.rollout_version = bundle.id
    percent = _field(body, "rolloutPercentage", "rollout_percentage")
    bps = _field(body, "rolloutPercentageBps", "rollout_percentage_bps")
    if percent is not None:
        if not isinstance(percent, int | float) or not 0 <= percent <= 100:
            raise bad_request("invalid_rollout_percentage", "Rollout percentage must be 0-100")
        channel.rollout_percentage_bps = round(percent * 100)
    elif bps is not None:
        if not isinstance(bps, int) or not 0 <= bps <= 10000:
            raise bad_request("invalid_rollout_percentage", "Rollout percentage must be 0-10000")
        channel.rollout_percentage_bps = bps
    enabled = _field(body, "rolloutEnabled", "rollout_enabled")
    if enabled is not None:
        if enabled and channel.rollout_version is None:
            raise bad_request("missing_rollout_version", "Rollout needs a rollout version")
        if enabled and channel.version is None:
            raise bad_request("missing_stable_version", "Rollout needs a stable version")
        channel.rollout_enabled = bool(enabled)
    paused = _field(body, "rolloutPaused", "rollout_paused")
    if paused is not None:
        channel.rollout_paused_at = ctx.world.now() if paused else None
        channel.rollout_pause_reason = _field(body, "rolloutPauseReason") if paused else None


_ROLLOUT_KEYS = (
    "rolloutVersion",
    "rollout_version",
    "rolloutPercentage",
    "rollout_percentage",
    "rolloutPercentageBps",
    "rollout_percentage_bps",
    "rolloutEnabled",
    "rollout_enabled",
    "rolloutPaused",
    "rollout_paused",
)


def post_channel(ctx: Ctx) -> Any:
    body = parse_body(ctx.request)
    app_id = app_id_param(body)
    name = body.get("channel")
    if not isinstance(name, str) or not name:
        raise unknown_error()  # quirk: a missing `channel` crashes the handler
    world = ctx.world
    app = app_with(ctx, app_id, "app.read", no_app_access())
    existing = world.channel(app.app_id, name)
    needed = ["channel.update_settings"] if existing else ["app.create_channel"]
    if existing and "version" in body:
        needed.append("channel.promote_bundle")
    if not all(ctx.principal.can(p, app.owner_org, app.id) for p in needed):
        raise no_app_access()
    if existing is None and any(k in body for k in _ROLLOUT_KEYS):
        raise bad_request("cannot_find_channel", "Rollout changes need an existing channel")
    version_id: int | None = None
    if body.get("version") not in (None, "unknown", "builtin"):
        bundle = world.bundle_by_name(app.app_id, str(body["version"]))
        if bundle is None:
            if existing is not None:
                raise unknown_error()  # quirk: unknown version on an existing channel
            raise bad_request("cannot_find_version", "Cannot find version")
        version_id = bundle.id
    if "disableAutoUpdate" in body and body["disableAutoUpdate"] not in AUTO_UPDATE_LIMITS:
        raise schema_error("disableAutoUpdate", "Invalid enum value")
    now = world.now()
    channel = existing or Channel(
        id=world.new_id(),
        app_id=app.app_id,
        name=name,
        created_at=now,
        updated_at=now,
        created_by=ctx.principal.key.user_id,
        version=None,
        public=False,
    )
    if "version" in body:
        channel.version = version_id
    for flag in BOOLEAN_SETTINGS:
        if isinstance(body.get(flag), bool):
            setattr(channel, flag, body[flag])
    if "disableAutoUpdate" in body:
        channel.disable_auto_update = body["disableAutoUpdate"]
    if isinstance(body.get("disableAutoUpdateUnderNative"), bool):
        channel.disable_auto_update_under_native = body["disableAutoUpdateUnderNative"]
    if existing is not None:
        _apply_rollout(ctx, app, channel, body)
    channel.updated_at = now
    if existing is None:
        world.channels[app.app_id].append(channel)
    if channel.public:
        for other in world.channels[app.app_id]:
            if other is not channel:
                other.public = False  # one public channel per app
    if existing is None and version_id is not None:
        return {"status": "ok", "id": channel.id, "public": channel.public}
    return {"status": "ok"}


def delete_channel(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    app_id = app_id_param(params)
    if not params.get("channel"):
        raise bad_request("missing_channel_name", "Missing channel name")
    app = app_with(ctx, app_id, "channel.delete", no_app_access())
    channel = ctx.world.channel(app.app_id, str(params["channel"]))
    if channel is None:
        raise bad_request("cannot_find_channel", "Cannot find channel")
    ctx.world.channels[app.app_id].remove(channel)
    return {"status": "ok"}
