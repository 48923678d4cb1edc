"""Devices (``/device``): cursor paging, with a page size that adapts to Capgo's storage.

Since 2025-12 the list is ``{data, nextCursor, hasMore}`` with ``limit`` and an opaque
``cursor``; the last page is the one with ``hasMore: false``. ``updated_at`` keeps only devices
changed strictly after it — what makes incremental sync cheap. Older servers answered a bare
array paged by ``page`` (50 a page); that shape is still walked, and ``updated_at`` is then
applied here, but only when it is exactly that: at most 50 device objects, each with a string
``device_id``, from a server that never answered cursor pages to this client. Any other array
(a server that answered cursor pages before, rows that are not devices, a longer page) is a
changed shape and fails the walk instead of being read as the old list, rows dropped.

Page size: the server fetches ``limit + 1`` rows to tell whether there is a
next page, and each storage caps that fetch silently: Cloudflare Analytics Engine (production)
at 50,001 rows, the Supabase path (self-hosted, fallback) at 1,000. A capped fetch answers a
full-looking page — exactly 1,000 or 50,001 rows — with ``hasMore: false`` although more
devices exist. So a walk asks for large pages (50,000: fifty times fewer requests than 999 where
production paging works), and on that signature it throws the page away and re-reads from the
same cursor with the storage's safe size (999 or 50,000): the signature can also be a genuine
last page of exactly that many devices, and re-reading costs one request where concluding
wrongly would lose every device after it. The walk tells its caller (``on_capped``) only once
the re-read proved the page was cut short (more rows followed than the cap), so the caller
can remember the size that works for this API.
"""

from __future__ import annotations

import builtins
import gc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.device_rows import (
    DevicePage,
    DevicePageDecoder,
    DeviceRow,
    row_from_mapping,
)
from capgo_exporter.api.errors import CapgoResponseError
from capgo_exporter.api.models import Device, StatusResponse
from capgo_exporter.api.paging import walk_offset_pages
from capgo_exporter.api.routes import Routes

ROUTES = Routes(polled=("/device",))

# The largest page that production (Analytics Engine) answers without cutting it short.
DEFAULT_PAGE_SIZE: Final = 50_000
# Rows the storages fetch at most (limit + 1, capped): Supabase's PostgREST max_rows, then
# Analytics Engine's LIMIT 50000 + 1. A page of exactly that many with hasMore:false is suspect.
STORAGE_ROW_CAPS: Final = (1_000, 50_001)
_LEGACY_PAGE_SIZE = 50
# Pages this large (megabytes) are freed by a young-generation collection as soon as decoded:
# httpx's response sits in a reference cycle, so its body (18 MB for 50,000 devices) otherwise
# waits for a full collection, which the walk's few tracked objects rarely trigger: RSS grew
# 17 MB a page, to 265 MB over a million devices (benchmarks/bench_device_walk.py).
_COLLECT_AFTER_PAGE_SIZE: Final = 10_000


def format_updated_at(moment: datetime) -> str:
    """The form Capgo accepts, truncated to milliseconds (down: never skips a device)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def capped_at(rows: int, limit: int, has_more: bool) -> int | None:
    """The storage cap a page may have been cut at (its truncation signature), or None."""
    if has_more:
        return None
    for cap in STORAGE_ROW_CAPS:
        if rows == cap and limit >= cap:
            return cap
    return None


def _rows(rows: Any) -> builtins.list[dict[str, Any]]:
    if not isinstance(rows, builtins.list):
        raise CapgoResponseError(
            "Capgo answered a device list that is not a list", endpoint="/device"
        )
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("device_id"), str)]


@dataclass
class _Page:
    rows: builtins.list[Any]  # DeviceRow (typed walk) or dict (raw walk), device_id checked
    size: int  # rows in the answer, before any was dropped
    has_more: bool
    next_cursor: Any


@dataclass
class _Suspicion:
    """A page matched a cap's signature: count what follows its cursor to settle it."""

    cap: int
    rows_since: int = 0


def _is_device(row: Any) -> bool:
    if isinstance(row, DeviceRow):
        return isinstance(row.device_id, str)
    return isinstance(row, dict) and isinstance(row.get("device_id"), str)


def _legacy_rows(rows: Any) -> builtins.list[Any]:
    """A page of the pre-2025-12 list: every row a device, or the shape changed."""
    if not isinstance(rows, builtins.list) or not all(map(_is_device, rows)):
        raise CapgoResponseError(
            "Capgo answered GET /device with an array that is not a page of devices, each "
            "with a device_id; refused as a changed shape",
            endpoint="/device",
        )
    return rows


class Devices:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http
        self._decoder = DevicePageDecoder()  # learns the fleet's versions, walk after walk
        # Once Capgo answered a cursor page, a bare array from it is a changed shape.
        self._cursor_pages_seen = False

    def _refuse_unless_legacy(self, answer: builtins.list[Any]) -> None:
        """A bare array answered to a cursor request: the old list, or a changed shape."""
        if self._cursor_pages_seen:
            raise CapgoResponseError(
                "Capgo answered GET /device with a bare JSON array after answering cursor pages "
                "({data, nextCursor, hasMore}); refused as a changed shape",
                endpoint="/device",
            )
        if len(answer) > _LEGACY_PAGE_SIZE:
            raise CapgoResponseError(
                f"Capgo answered GET /device with an array of {len(answer)} rows: not the "
                f"pre-2025-12 list ({_LEGACY_PAGE_SIZE} a page); refused as a changed shape",
                endpoint="/device",
            )
        _legacy_rows(answer)

    async def rows(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        on_capped: Callable[[int], None] | None = None,
    ) -> AsyncIterator[builtins.list[DeviceRow]]:
        """Every page of the app's devices, decoded into the fields the index keeps.

        The bulk path (a million devices): msgspec decodes each body straight into
        `DeviceRow`s. ``on_capped(safe_size)`` is called when a page proved cut short by the
        storage (see the module's docstring); the walk itself goes on at the safe size.
        """
        async for page in self._walk(app_id, updated_after, page_size, on_capped, typed=True):
            yield page

    async def raw_pages(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        on_capped: Callable[[int], None] | None = None,
        custom_id: str | None = None,
    ) -> AsyncIterator[builtins.list[dict[str, Any]]]:
        """Every page of the app's devices as decoded JSON rows, every field kept, unvalidated.

        Rows lacking a string ``device_id`` are dropped here, so callers can use them without
        checks. The same truncation handling as `rows`. ``custom_id`` keeps the devices whose
        custom id is exactly it: newer Capgo filters (``custom_id``); an older one ignores the
        parameter and answers every device, so the rows are filtered here too.
        """
        walk = self._walk(
            app_id, updated_after, page_size, on_capped, typed=False, custom_id=custom_id
        )
        async for page in walk:
            if custom_id is not None:
                page = [row for row in page if row.get("custom_id") == custom_id]
            yield page

    async def _walk(
        self,
        app_id: str,
        updated_after: datetime | None,
        page_size: int,
        on_capped: Callable[[int], None] | None,
        *,
        typed: bool,
        custom_id: str | None = None,
    ) -> AsyncIterator[builtins.list[Any]]:
        params: dict[str, Any] = {"app_id": app_id}
        if custom_id is not None:
            params["custom_id"] = custom_id
        if updated_after is not None:
            params["updated_at"] = format_updated_at(updated_after)
        cursor: str | None = None
        size = page_size
        suspicion: _Suspicion | None = None
        while True:
            answer = await self._http.call(
                "GET",
                "/device",
                params={**params, "limit": size, "cursor": cursor},
                decode=self._decoder.decode if typed else None,
            )
            if isinstance(answer, list):
                self._refuse_unless_legacy(answer)
                async for legacy_page in self._legacy_pages(app_id, answer, updated_after, typed):
                    yield legacy_page
                return
            page = _typed_page(answer) if typed else _raw_page(answer)
            self._cursor_pages_seen = True
            del answer  # a page of 50,000 is tens of MB: hold one page at a time, not two
            if size >= _COLLECT_AFTER_PAGE_SIZE:
                gc.collect(1)  # about a millisecond; frees the response's body now
            cap = capped_at(page.size, size, page.has_more)
            if cap is not None:
                # Maybe cut short: the same cursor again, at a size the storage answers whole.
                size, suspicion = cap - 1, _Suspicion(cap)
                continue
            yield page.rows
            page.rows = []  # the caller has it; do not keep it through the next request
            if suspicion is not None:
                suspicion.rows_since += page.size
                if suspicion.rows_since > suspicion.cap:  # proved: the page was cut short
                    if on_capped is not None:
                        on_capped(suspicion.cap - 1)
                    suspicion = None
            if not page.has_more or not page.next_cursor:
                return
            if page.next_cursor == cursor:
                raise CapgoResponseError(
                    "Capgo returned the same device cursor twice; stopping the walk",
                    endpoint="/device",
                )
            cursor = str(page.next_cursor)

    async def pages(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        custom_id: str | None = None,
    ) -> AsyncIterator[builtins.list[Device]]:
        """Every page of the app's devices (changed after ``updated_after``, with this
        ``custom_id``, when given)."""
        async for rows in self.raw_pages(
            app_id, updated_after=updated_after, page_size=page_size, custom_id=custom_id
        ):
            yield [Device.model_validate(row) for row in rows]

    async def list(
        self,
        app_id: str,
        *,
        updated_after: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        custom_id: str | None = None,
    ) -> AsyncIterator[Device]:
        async for page in self.pages(
            app_id, updated_after=updated_after, page_size=page_size, custom_id=custom_id
        ):
            for device in page:
                yield device

    async def _legacy_pages(
        self, app_id: str, first: builtins.list[Any], updated_after: datetime | None, typed: bool
    ) -> AsyncIterator[builtins.list[Any]]:
        async def fetch(page: int) -> builtins.list[dict[str, Any]]:
            if page == 0:
                return first
            rows = await self._http.call("GET", "/device", params={"app_id": app_id, "page": page})
            return _legacy_rows(rows)

        since = format_updated_at(updated_after) if updated_after is not None else None
        batch: builtins.list[Any] = []
        # The first answer was decoded typed when asked so: back to plain rows for paging.
        first = [_as_mapping(row) for row in first]
        async for row in walk_offset_pages(
            fetch, lambda r: r["device_id"], page_size=_LEGACY_PAGE_SIZE
        ):
            # The old server had no updated_at filter: apply it here (same ISO form compares).
            if since is None or str(row.get("updated_at") or "") > since:
                batch.append(row_from_mapping(row) if typed else row)
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


def _as_mapping(row: Any) -> Any:
    return msgspec.structs.asdict(row) if isinstance(row, DeviceRow) else row


def _typed_page(answer: DevicePage) -> _Page:
    data = answer.data
    rows = (
        data
        if answer.all_devices
        else [r for r in data if isinstance(r, DeviceRow) and isinstance(r.device_id, str)]
    )
    return _Page(rows, len(data), bool(answer.has_more), answer.next_cursor)


def _raw_page(answer: Any) -> _Page:
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
        raise CapgoResponseError(
            "Capgo answered GET /device without a data list", endpoint="/device"
        )
    data = answer["data"]
    return _Page(_rows(data), len(data), bool(answer.get("hasMore")), answer.get("nextCursor"))
