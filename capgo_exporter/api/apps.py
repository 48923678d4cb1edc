"""Apps (``/app``): left out of Capgo's published API doc; the exporter needs it to find apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.models import App, StatusResponse
from capgo_exporter.api.routes import Routes

ROUTES = Routes(polled=("/app",), admin_only=("/app/{app_id}",))


class Apps:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def list(self, org_id: str | None = None, *, page_size: int = 50) -> AsyncIterator[App]:
        """Every app of one org, or of every org the key sees. ``page`` works on this route."""
        page = 0
        while True:
            rows = await self._http.call(
                "GET", "/app", params={"page": page, "limit": page_size, "org_id": org_id}
            )
            for row in rows:
                yield App.model_validate(row)
            if len(rows) < page_size:
                return
            page += 1

    async def get(self, app_id: str) -> App:
        row = await self._http.call("GET", "/app/{app_id}", path={"app_id": app_id})
        return App.model_validate(row)

    async def create(self, app_id: str, name: str, owner_org: str, **fields: Any) -> App:
        row = await self._http.call(
            "POST",
            "/app",
            params={"app_id": app_id, "name": name, "owner_org": owner_org, **fields},
        )
        return App.model_validate(row)

    async def update(self, app_id: str, **fields: Any) -> App:
        row = await self._http.call("PUT", "/app/{app_id}", path={"app_id": app_id}, body=fields)
        return App.model_validate(row)

    async def delete(self, app_id: str) -> StatusResponse:
        answer = await self._http.call("DELETE", "/app/{app_id}", path={"app_id": app_id})
        return StatusResponse.model_validate(answer)
