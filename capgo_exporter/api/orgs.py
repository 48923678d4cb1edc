"""Organizations and their members (``/organization``, ``/organization/members``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.models import Member, Organization, StatusResponse
from capgo_exporter.api.paging import PAGE_SIZE
from capgo_exporter.api.routes import Routes

ROUTES = Routes(polled=("/organization", "/organization/members"))


class Organizations:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def list(self) -> AsyncIterator[Organization]:
        """Every organization the key can see.

        The first page is asked without ``page``: the backend validates ``page`` as a number,
        so a query-string ``?page=1`` is a 400. Later pages go as a JSON body on the GET.
        """
        page = 0
        while True:
            body = {"page": page} if page else None
            rows = await self._http.call("GET", "/organization", body=body)
            if isinstance(rows, dict):  # a server that ignores paging may answer one object
                rows = [rows]
            for row in rows:
                yield Organization.model_validate(row)
            if len(rows) < PAGE_SIZE:
                return
            page += 1

    async def get(self, org_id: str) -> Organization:
        row = await self._http.call("GET", "/organization", params={"orgId": org_id})
        return Organization.model_validate(row)

    async def create(
        self,
        name: str,
        *,
        email: str | None = None,
        website: str | None = None,
        estimated_mau: int | None = None,
    ) -> str:
        """Create an organization; returns its id."""
        body = {"name": name, "email": email, "website": website, "estimatedMau": estimated_mau}
        answer = await self._http.call(
            "POST", "/organization", params={k: v for k, v in body.items() if v is not None}
        )
        return str(answer["id"])

    async def update(self, org_id: str, **fields: Any) -> StatusResponse:
        """Change settings (``name``, ``website``, ``management_email``, key policies, …)."""
        answer = await self._http.call("PUT", "/organization", params={"orgId": org_id, **fields})
        return StatusResponse.model_validate(answer)

    async def delete(self, org_id: str) -> StatusResponse:
        answer = await self._http.call("DELETE", "/organization", params={"orgId": org_id})
        return StatusResponse.model_validate(answer)


class Members:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def list(self, org_id: str) -> list[Member]:
        """Members and pending invitations (``is_tmp``); not paged."""
        rows = await self._http.call("GET", "/organization/members", params={"orgId": org_id})
        return [Member.model_validate(row) for row in rows]

    async def invite(self, org_id: str, email: str, role: str = "org_member") -> StatusResponse:
        answer = await self._http.call(
            "POST",
            "/organization/members",
            params={"orgId": org_id, "email": email, "invite_type": role},
        )
        return StatusResponse.model_validate(answer)

    async def remove(self, org_id: str, email: str) -> StatusResponse:
        answer = await self._http.call(
            "DELETE", "/organization/members", params={"orgId": org_id, "email": email}
        )
        return StatusResponse.model_validate(answer)
