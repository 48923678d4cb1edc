"""Every Capgo route the simulator serves, with the auth middleware the real router uses."""

from __future__ import annotations

from typing import Any

from capgo_exporter.sim.auth import Middleware
from capgo_exporter.sim.protocol import parse_body
from capgo_exporter.sim.routes import (
    apikey,
    app,
    bundle,
    channel,
    device,
    insights,
    organization,
    statistics,
)
from capgo_exporter.sim.routes.base import Ctx, Route

KEY, AUTH, NONE = Middleware.KEY, Middleware.AUTH, Middleware.NONE


def _ok(ctx: Ctx) -> Any:
    if ctx.request.method == "POST":
        parse_body(ctx.request)
    return {"status": "ok"}


ROUTES: tuple[Route, ...] = (
    Route("GET", "/ok", NONE, _ok),
    Route("POST", "/ok", NONE, _ok),
    Route("GET", "/organization", KEY, organization.get_organization),
    Route("POST", "/organization", AUTH, organization.post_organization),
    Route("PUT", "/organization", AUTH, organization.put_organization),
    Route("DELETE", "/organization", KEY, organization.delete_organization),
    Route("GET", "/organization/members", KEY, organization.get_members),
    Route("POST", "/organization/members", KEY, organization.post_members),
    Route("DELETE", "/organization/members", AUTH, organization.delete_members),
    Route("GET", "/apikey", AUTH, apikey.list_keys),
    Route("POST", "/apikey", AUTH, apikey.create_key),
    Route("PUT", "/apikey", AUTH, apikey.update_key),
    Route("GET", "/apikey/{id}", AUTH, apikey.get_key),
    Route("PUT", "/apikey/{id}", AUTH, apikey.update_key),
    Route("DELETE", "/apikey/{id}", AUTH, apikey.delete_key),
    Route("GET", "/statistics/app/{app_id}", AUTH, statistics.app_stats),
    Route("GET", "/statistics/app/{app_id}/bundle_usage", AUTH, statistics.bundle_usage),
    Route("GET", "/statistics/app/{app_id}/native_usage", AUTH, statistics.native_usage),
    Route("GET", "/statistics/org/{org_id}", AUTH, statistics.org_stats),
    Route("GET", "/statistics/user", AUTH, statistics.user_stats),
    Route("POST", "/private/stats/insights", AUTH, insights.stats_insights),
    Route("GET", "/channel", KEY, channel.get_channel),
    Route("GET", "/channel/current-bundle", KEY, channel.current_bundle),
    Route("POST", "/channel", KEY, channel.post_channel),
    Route("DELETE", "/channel", KEY, channel.delete_channel),
    Route("GET", "/device", KEY, device.get_device),
    Route("POST", "/device", KEY, device.post_device),
    Route("DELETE", "/device", KEY, device.delete_device),
    Route("GET", "/bundle", KEY, bundle.get_bundle),
    Route("POST", "/bundle", KEY, bundle.post_bundle),
    Route("PUT", "/bundle", KEY, bundle.put_bundle),
    Route("DELETE", "/bundle", KEY, bundle.delete_bundle),
    Route("POST", "/bundle/metadata", KEY, bundle.post_metadata),
    Route("GET", "/app", KEY, app.list_apps),
    Route("POST", "/app", AUTH, app.post_app),
    Route("GET", "/app/{id}", KEY, app.get_app),
    Route("PUT", "/app/{id}", KEY, app.put_app),
    Route("DELETE", "/app/{id}", KEY, app.delete_app),
)
