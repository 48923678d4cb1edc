"""/device (Capgo's public/device/): cursor paging, the updated_at and (newer Capgo) custom_id
filters, and channel overrides."""

from __future__ import annotations

from typing import Any

from capgo_exporter.sim.device_tables import AppView
from capgo_exporter.sim.devices import BadCursor, DeviceStore
from capgo_exporter.sim.protocol import ApiError, bad_request, body_or_query, parse_body
from capgo_exporter.sim.routes.base import (
    PAGE_SIZE,
    Ctx,
    app_id_param,
    app_with,
    no_app_access,
    require,
)
from capgo_exporter.sim.timeutil import parse_updated_at

CUSTOM_ID_MAX = 36


def _limit(value: Any) -> int:
    if value is None:
        return PAGE_SIZE
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    raise bad_request("invalid_limit", "limit must be a positive integer")


def get_device(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    app = app_with(ctx, app_id_param(params), "app.read_devices", no_app_access())
    store = ctx.world.devices[app.app_id]
    view = ctx.world.app_view(app)
    if params.get("device_id"):
        index = store.index_of(str(params["device_id"]))
        if index is None:
            raise ApiError(404, "device_not_found", "Device not found")
        return store.record(index, view, single=True)
    if ctx.world.config.legacy_device_paging:
        return _legacy_page(store, view, params.get("page", 0))
    limit = _limit(params.get("limit"))
    after_ms = None
    if params.get("updated_at") is not None:
        after_ms = parse_updated_at(str(params["updated_at"]))
        if after_ms is None:
            raise bad_request("invalid_updated_at", "Invalid updated_at")
    order = params.get("order")
    if order is not None and order not in ("asc", "desc"):
        raise bad_request("invalid_order", "order must be asc or desc")
    cursor = params.get("cursor")
    try:
        rows, next_cursor = store.page(
            view,
            limit=limit,
            cursor=str(cursor) if cursor else None,
            after_ms=after_ms,
            order=order,
            custom_only=bool(params.get("customIdMode")),  # quirk: "false" is truthy
            row_cap=ctx.world.config.device_row_cap or None,
            custom_id=_custom_id(ctx, params),
        )
    except BadCursor as exc:
        raise bad_request("invalid_cursor", "Invalid cursor") from exc
    if next_cursor is None:
        return {"data": rows, "hasMore": False}
    return {"data": rows, "nextCursor": next_cursor, "hasMore": True}


def _custom_id(ctx: Ctx, params: dict[str, Any]) -> str | None:
    """Newer Capgo's exact custom_id filter (trimmed, at most 36 characters); an older one
    ignores the parameter."""
    if not ctx.world.config.newer_capgo or params.get("custom_id") is None:
        return None
    value = str(params["custom_id"]).strip()
    if len(value) > CUSTOM_ID_MAX:
        raise bad_request("invalid_custom_id", "Invalid custom_id")
    return value


def _legacy_page(store: DeviceStore, view: AppView, raw: Any) -> Any:
    """Before 2025-12: a bare array, 50 per 0-based `page`, device_id order."""
    page = int(raw) if str(raw).isdigit() else 0
    start = page * PAGE_SIZE
    return [store.record(i, view) for i in range(start, min(start + PAGE_SIZE, store.count))]


def post_device(ctx: Ctx) -> Any:
    body = parse_body(ctx.request)
    if not body.get("app_id") or not body.get("device_id"):
        raise bad_request("missing_device_id_or_app_id", "Missing device_id or app_id")
    app_id = app_id_param(body)
    if "version_id" in body:
        raise bad_request(
            "invalid_version_id", "Setting a version is not supported, use channel instead"
        )
    world = ctx.world
    if not body.get("channel"):
        app_with(ctx, app_id, "app.manage_devices", no_app_access())
        return {"status": "ok"}  # nothing to do without a channel
    app = app_with(ctx, app_id, "app.read", no_app_access())
    channel = world.channel(app.app_id, str(body["channel"]))
    if channel is None:
        raise ApiError(404, "channel_not_found", "Channel not found")
    if not ctx.principal.can("channel.manage_forced_devices", app.owner_org, app.id):
        raise bad_request("cannot_access_channel", "You can't access this channel")
    if channel.public:
        raise bad_request(
            "public_channel_override", "Cannot set a channel override to a public channel"
        )
    store = world.devices[app.app_id]
    index = store.index_of(str(body["device_id"]).lower())
    # Overrides for devices the simulator has never generated are accepted and dropped.
    if index is not None:
        store.set_override(index, channel.name)
    return {"status": "ok"}


def delete_device(ctx: Ctx) -> Any:
    params = body_or_query(ctx.request)
    app_id = app_id_param(params)
    require(params, "device_id")
    app = app_with(ctx, app_id, "app.manage_devices", no_app_access())
    store = ctx.world.devices[app.app_id]
    index = store.index_of(str(params["device_id"]))
    if index is not None:
        store.set_override(index, None)
    return {"status": "ok"}  # even when there was no override or no such device
