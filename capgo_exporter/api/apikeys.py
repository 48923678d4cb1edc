"""API keys (``/apikey``).

Capgo lets a key list, rename, re-expire, regenerate and delete *other* keys of the orgs it
manages, but never create one: that needs a console login (400 ``cannot_create_apikey``).
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.models import ApiKey, StatusResponse
from capgo_exporter.api.routes import Routes

ROUTES = Routes(polled=("/apikey",), admin_only=("/apikey/{id}",))

_UNSET: Any = object()


class ApiKeys:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def list(self) -> builtins.list[ApiKey]:
        rows = await self._http.call("GET", "/apikey")
        if isinstance(rows, dict):  # the old docs showed a {"data": [...]} wrapper
            rows = rows.get("data", [])
        return [ApiKey.model_validate(row) for row in rows]

    async def get(self, key_id: int | str) -> ApiKey:
        row = await self._http.call("GET", "/apikey/{id}", path={"id": key_id})
        return ApiKey.model_validate(row)

    async def create(
        self,
        name: str,
        *,
        bindings: builtins.list[dict[str, Any]] | None = None,
        hashed: bool = False,
        expires_at: datetime | None = None,
        global_permissions: builtins.list[str] | None = None,
    ) -> ApiKey:
        """Create a key. The answer carries the new plain key in ``key`` (shown once)."""
        body: dict[str, Any] = {"name": name, "hashed": hashed}
        if bindings is not None:
            body["bindings"] = bindings
        if expires_at is not None:
            body["expires_at"] = expires_at.isoformat()
        if global_permissions is not None:
            body["global_permissions"] = global_permissions
        answer = await self._http.call("POST", "/apikey", params=body)
        if isinstance(answer, dict) and isinstance(answer.get("apikey"), dict):
            answer = answer["apikey"]  # the shape Capgo's published API doc gives
        return ApiKey.model_validate(answer)

    async def update(
        self,
        key_id: int | str,
        *,
        name: str | None = None,
        expires_at: datetime | None = _UNSET,
        regenerate: bool = False,
    ) -> ApiKey:
        """Rename, change or clear (``expires_at=None``) the expiry, or regenerate the key."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if expires_at is not _UNSET:
            body["expires_at"] = expires_at.isoformat() if expires_at else None
        if regenerate:
            body["regenerate"] = True
        row = await self._http.call("PUT", "/apikey/{id}", path={"id": key_id}, body=body)
        return ApiKey.model_validate(row)

    async def delete(self, key_id: int | str) -> StatusResponse:
        answer = await self._http.call("DELETE", "/apikey/{id}", path={"id": key_id})
        return StatusResponse.model_validate(answer)
