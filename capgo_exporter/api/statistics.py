"""Usage statistics (``/statistics``): daily rows over ``[start, end)``.

``to`` is exclusive and days after today are dropped, so asking up to *tomorrow* includes
today. Values are cumulative from ``start`` unless ``daily=True`` (``noAccumulate``); with
``start`` at the billing-cycle start, the last cumulative row is the cycle-to-date figure.
The ``graph`` parameter of Capgo's published API doc no longer exists on the server and is
not sent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.models import OrgStatsBreakdown, StatsRow, UsageBreakdown
from capgo_exporter.api.routes import Routes

ROUTES = Routes(
    polled=(
        "/statistics/org/{org_id}",
        "/statistics/app/{app_id}",
        "/statistics/app/{app_id}/bundle_usage",
        "/statistics/app/{app_id}/native_usage",
    ),
    admin_only=("/statistics/user",),
)


def _range(start: date, end: date, daily: bool = False) -> dict[str, Any]:
    if end <= start:
        raise ValueError(f"statistics range is empty: {start} to {end} (end is exclusive)")
    params: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat()}
    if daily:
        params["noAccumulate"] = True
    return params


class Statistics:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def app(
        self, app_id: str, start: date, end: date, *, daily: bool = False
    ) -> list[StatsRow]:
        rows = await self._http.call(
            "GET",
            "/statistics/app/{app_id}",
            path={"app_id": app_id},
            params=_range(start, end, daily),
        )
        return [StatsRow.model_validate(row) for row in rows]

    async def org(
        self, org_id: str, start: date, end: date, *, daily: bool = False
    ) -> list[StatsRow]:
        """Summed over the org's apps, deleted apps included."""
        rows = await self._http.call(
            "GET",
            "/statistics/org/{org_id}",
            path={"org_id": org_id},
            params=_range(start, end, daily),
        )
        return [StatsRow.model_validate(row) for row in rows]

    async def org_breakdown(
        self, org_id: str, start: date, end: date, *, daily: bool = False
    ) -> OrgStatsBreakdown:
        answer = await self._http.call(
            "GET",
            "/statistics/org/{org_id}",
            path={"org_id": org_id},
            params={**_range(start, end, daily), "breakdown": True},
        )
        return OrgStatsBreakdown.model_validate(answer)

    async def user(self, start: date, end: date, *, daily: bool = False) -> list[StatsRow]:
        """Everything the key can reach, summed by day."""
        rows = await self._http.call("GET", "/statistics/user", params=_range(start, end, daily))
        return [StatsRow.model_validate(row) for row in rows]

    async def bundle_usage(self, app_id: str, start: date, end: date) -> UsageBreakdown:
        """Share of update checks per bundle, per day."""
        answer = await self._http.call(
            "GET",
            "/statistics/app/{app_id}/bundle_usage",
            path={"app_id": app_id},
            params=_range(start, end),
        )
        return UsageBreakdown.model_validate(answer)

    async def native_usage(self, app_id: str, start: date, end: date) -> UsageBreakdown:
        """Share of devices per native version (labels like ``iOS 1.2.3``), per day; newer
        Capgo adds its count of active devices per platform over the range."""
        answer = await self._http.call(
            "GET",
            "/statistics/app/{app_id}/native_usage",
            path={"app_id": app_id},
            params=_range(start, end),
        )
        return UsageBreakdown.model_validate(answer)
