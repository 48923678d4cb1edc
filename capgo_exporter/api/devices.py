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
from capgo_exporter.api.models import Device, StatusResponse
from capgo_exporter.api.paging import walk_offset_pages

DEFAULT_PAGE_SIZE = 999
_LEGACY_PAGE_SIZE = 50


def format_updated_at(moment: datetime) -> str:
    """The form Capgo accepts, truncated to milliseconds (down: never skips a device)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _rows(rows: Any) -> builtins.list[dict[str, Any]]:
    if not isinstance(rows, builtins.list):
        raise CapgoResponseError(
            "Capgo answered a device list that is not a list", endpoint="/device"
        )
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("device_id"), str)]


class Devices:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def raw_pages(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[builtins.list[dict[str, Any]]]:
        """Every page of the app's devices as decoded JSON rows, unvalidated.

        For bulk ingestion (a million devices): validating every row with pydantic would cost
        more than everything else the exporter does per device. Rows lacking a string
        ``device_id`` are dropped here, so callers can index them without checks.
        """
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
            if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
                raise CapgoResponseError(
                    "Capgo answered GET /device without a data list", endpoint="/device"
                )
            yield _rows(answer["data"])
            next_cursor = answer.get("nextCursor")
            if not answer.get("hasMore") or not next_cursor:
                return
            if next_cursor == cursor:
                raise CapgoResponseError(
                    "Capgo returned the same device cursor twice; stopping the walk",
                    endpoint="/device",
                )
            cursor = str(next_cursor)

    async def pages(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[builtins.list[Device]]:
        """Every page of the app's devices (changed after ``updated_after`` when given)."""
        async for rows in self.raw_pages(app_id, updated_after=updated_after, page_size=page_size):
            yield [Device.model_validate(row) for row in rows]

    async def list(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Device]:
        async for page in self.pages(app_id, updated_after=updated_after, page_size=page_size):
            for device in page:
                yield device

    async def _legacy_pages(
        self, app_id: str, first: builtins.list[Any], updated_after: datetime | None
    ) -> AsyncIterator[builtins.list[dict[str, Any]]]:
        async def fetch(page: int) -> builtins.list[dict[str, Any]]:
            rows = (
                first
                if page == 0
                else await self._http.call(
                    "GET", "/device", params={"app_id": app_id, "page": page}
                )
            )
            return _rows(rows)

        since = format_updated_at(updated_after) if updated_after is not None else None
        batch: builtins.list[dict[str, Any]] = []
        async for row in walk_offset_pages(
            fetch, lambda r: r["device_id"], page_size=_LEGACY_PAGE_SIZE
        ):
            # The old server had no updated_at filter: apply it here (same ISO form compares).
            if since is None or str(row.get("updated_at") or "") > since:
                batch.append(row)
            if len(batch) >= _LEGACY_PAGE_SIZE:
                yield batch
                batch = []
        if batch:
            yield batch

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
