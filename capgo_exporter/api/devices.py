"""Devices (``/device``): cursor paging.

Since 2025-12 the list is ``{data, nextCursor, hasMore}`` with ``limit`` (keep it ≤ 999: the
Supabase-backed path breaks ``hasMore`` at 1000) and an opaque ``cursor``; the last page is the
one with ``hasMore: false``. ``updated_at`` keeps only devices changed strictly after it — what
makes incremental sync cheap. Older servers answered a bare array paged by ``page`` (50 a
page); that shape is still walked, and ``updated_at`` is then applied here.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.errors import CapgoResponseError
from capgo_exporter.api.models import Device, DevicePage, StatusResponse
from capgo_exporter.api.paging import walk_offset_pages

DEFAULT_PAGE_SIZE = 999
_LEGACY_PAGE_SIZE = 50


def format_updated_at(moment: datetime) -> str:
    """The form Capgo accepts, truncated to milliseconds (down: never skips a device)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Devices:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def pages(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[DevicePage]:
        """Every page of the app's devices (changed after ``updated_after`` when given)."""
        params: dict[str, Any] = {"app_id": app_id, "limit": page_size}
        if updated_after is not None:
            params["updated_at"] = format_updated_at(updated_after)
        cursor: str | None = None
        while True:
            answer = await self._http.call("GET", "/device", params={**params, "cursor": cursor})
            if isinstance(answer, list):
                async for legacy_page in self._legacy_pages(app_id, answer, updated_after):
                    yield legacy_page
                return
            page = DevicePage.model_validate(answer)
            yield page
            if not page.has_more or not page.next_cursor:
                return
            if page.next_cursor == cursor:
                raise CapgoResponseError(
                    "Capgo returned the same device cursor twice; stopping the walk",
                    endpoint="/device",
                )
            cursor = page.next_cursor

    async def list(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Device]:
        async for page in self.pages(app_id, updated_after=updated_after, page_size=page_size):
            for device in page.data:
                yield device

    async def _legacy_pages(
        self, app_id: str, first: builtins.list[Any], updated_after: datetime | None
    ) -> AsyncIterator[DevicePage]:
        async def fetch(page: int) -> builtins.list[Device]:
            rows = (
                first
                if page == 0
                else await self._http.call(
                    "GET", "/device", params={"app_id": app_id, "page": page}
                )
            )
            return [Device.model_validate(row) for row in rows]

        batch: builtins.list[Device] = []
        async for device in walk_offset_pages(
            fetch, lambda d: d.device_id, page_size=_LEGACY_PAGE_SIZE
        ):
            if updated_after is None or (
                device.updated_at is not None and device.updated_at > updated_after
            ):
                batch.append(device)
            if len(batch) >= _LEGACY_PAGE_SIZE:
                yield DevicePage(data=batch, has_more=True)
                batch = []
        yield DevicePage(data=batch, has_more=False)

    async def get(self, app_id: str, device_id: str) -> Device:
        row = await self._http.call(
            "GET", "/device", params={"app_id": app_id, "device_id": device_id}
        )
        return Device.model_validate(row)

    async def set_channel(self, app_id: str, device_id: str, channel: str) -> StatusResponse:
        """Force the device onto a (non-public) channel."""
        answer = await self._http.call(
            "POST", "/device", params={"app_id": app_id, "device_id": device_id, "channel": channel}
        )
        return StatusResponse.model_validate(answer)

    async def unset_channel(self, app_id: str, device_id: str) -> StatusResponse:
        """Remove the device's channel override (ok even when it had none)."""
        answer = await self._http.call(
            "DELETE", "/device", params={"app_id": app_id, "device_id": device_id}
        )
        return StatusResponse.model_validate(answer)
