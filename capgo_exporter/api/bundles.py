"""Bundles (``/bundle``): newest first, 50 per page, with the page bug of :mod:`.paging`.

Newer Capgo answers an empty page with ``[]``; older Capgo with 400 ``cannot_get_bundle`` —
the same code it uses for "no access". Both end the walk. The 400s differ only by message, so
page 0 is "no bundles" only with the empty-page message; past page 0 the code alone means the
end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.errors import BadRequestError
from capgo_exporter.api.models import Bundle, StatusResponse
from capgo_exporter.api.paging import walk_offset_pages
from capgo_exporter.api.routes import Routes

ROUTES = Routes(polled=("/bundle",), admin_only=("/bundle/metadata",))

_EMPTY_PAGE_MESSAGE = "cannot get bundle"


def _is_empty_page(error: BadRequestError, page: int) -> bool:
    if error.code != "cannot_get_bundle":
        return False
    return page > 0 or error.message.strip().lower() == _EMPTY_PAGE_MESSAGE


class Bundles:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    def list(self, app_id: str) -> AsyncIterator[Bundle]:
        """Live (not deleted) bundles, newest first."""

        async def fetch(page: int) -> list[Bundle]:
            try:
                rows = await self._http.call(
                    "GET", "/bundle", params={"app_id": app_id, "page": page}
                )
            except BadRequestError as error:
                if _is_empty_page(error, page):
                    return []
                raise
            return [Bundle.model_validate(row) for row in rows if not row.get("deleted")]

        return walk_offset_pages(fetch, lambda bundle: bundle.id)

    async def delete(self, app_id: str, version: str) -> StatusResponse:
        """Soft-delete one bundle by name."""
        if not version:
            raise ValueError("version is required; use delete_all() to delete every bundle")
        answer = await self._http.call(
            "DELETE", "/bundle", params={"app_id": app_id, "version": version}
        )
        return StatusResponse.model_validate(answer)

    async def delete_all(self, app_id: str) -> StatusResponse:
        """Soft-delete every bundle of the app that no channel uses. Irreversible in practice."""
        answer = await self._http.call("DELETE", "/bundle", params={"app_id": app_id})
        return StatusResponse.model_validate(answer)

    async def set_channel(self, app_id: str, bundle_id: int, channel_id: int) -> StatusResponse:
        answer = await self._http.call(
            "PUT",
            "/bundle",
            params={"app_id": app_id, "version_id": bundle_id, "channel_id": channel_id},
        )
        return StatusResponse.model_validate(answer)

    async def create(
        self, app_id: str, version: str, external_url: str, checksum: str, **fields: Any
    ) -> Bundle:
        """Register a bundle hosted elsewhere (``external_url`` must be https)."""
        answer = await self._http.call(
            "POST",
            "/bundle",
            params={
                "app_id": app_id,
                "version": version,
                "external_url": external_url,
                "checksum": checksum,
                **fields,
            },
        )
        return Bundle.model_validate(answer.get("bundle", answer))

    async def set_metadata(
        self, app_id: str, bundle_id: int, *, link: str | None = None, comment: str | None = None
    ) -> StatusResponse:
        params = {"app_id": app_id, "version_id": bundle_id, "link": link, "comment": comment}
        answer = await self._http.call(
            "POST", "/bundle/metadata", params={k: v for k, v in params.items() if v is not None}
        )
        return StatusResponse.model_validate(answer)
