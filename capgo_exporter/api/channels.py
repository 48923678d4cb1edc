"""Channels (``/channel``): 50 per page, served with the page bug (see :mod:`.paging`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.models import Channel, CurrentBundle, StatusResponse
from capgo_exporter.api.paging import walk_offset_pages
from capgo_exporter.api.routes import Routes

ROUTES = Routes(polled=("/channel",), admin_only=("/channel/current-bundle",))

# Capgo's channel settings, as POST /channel names them: the admin commands send them and the
# simulator accepts them, from this one list.
BOOLEAN_SETTINGS: Final = (
    "public",
    "allow_device_self_set",
    "allow_emulator",
    "allow_device",
    "allow_dev",
    "allow_prod",
)
# The values of disableAutoUpdate: the highest version part a channel updates across.
AUTO_UPDATE_LIMITS: Final = ("major", "minor", "patch", "version_number", "none")


class Channels:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    def list(self, app_id: str) -> AsyncIterator[Channel]:
        async def fetch(page: int) -> list[Channel]:
            rows = await self._http.call("GET", "/channel", params={"app_id": app_id, "page": page})
            return [Channel.model_validate(row) for row in rows]

        return walk_offset_pages(fetch, lambda channel: channel.id)

    async def get(self, app_id: str, name: str) -> Channel:
        """One channel. An unknown name is Capgo's 400 ``cannot_find_version`` (sic)."""
        row = await self._http.call("GET", "/channel", params={"app_id": app_id, "channel": name})
        return Channel.model_validate(row)

    async def current_bundle(self, app_id: str, name: str) -> CurrentBundle:
        """The bundle a channel serves now, with its update constraints. Newer Capgo only:
        older servers answer 404."""
        row = await self._http.call(
            "GET", "/channel/current-bundle", params={"app_id": app_id, "channel": name}
        )
        return CurrentBundle.model_validate(row)

    async def set(self, app_id: str, name: str, **settings: Any) -> StatusResponse:
        """Create or update: ``version``, ``public``, ``ios``/``android``/``electron``,
        ``disableAutoUpdate``, ``allow_*``, ``rolloutPercentage``, ``rolloutPaused``, …"""
        answer = await self._http.call(
            "POST", "/channel", params={"app_id": app_id, "channel": name, **settings}
        )
        return StatusResponse.model_validate(answer)

    async def delete(self, app_id: str, name: str) -> StatusResponse:
        answer = await self._http.call(
            "DELETE", "/channel", params={"app_id": app_id, "channel": name}
        )
        return StatusResponse.model_validate(answer)
