"""Raw device events (``POST /private/stats``): one row per distinct event, no cursor, no total.

A private, unversioned route, read like ``/private/stats/insights``: the fields the exporter
reads must be there and typed as expected, else CapgoResponseError says the route changed.
Identical events (same device, action, bundle, metadata and time) come back as one row, and a
result of exactly ``limit`` rows may have been cut: `StatsRows.complete` then splits the time
range in two and asks again, until every part is under the limit, so its counts are exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, StrictStr, TypeAdapter, ValidationError

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.errors import private_route_shape_error
from capgo_exporter.api.routes import Routes

ROUTE: Final = "/private/stats"
ROUTES: Final = Routes(polled=(ROUTE,))
# The most rows Capgo returns for one request.
MAX_LIMIT: Final = 50_000
_MS: Final = timedelta(milliseconds=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class StatsEvent(BaseModel):
    """One row. Unknown fields are fine; a missing or mistyped one is a changed shape."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    device_id: StrictStr
    action: StrictStr
    version_name: StrictStr | None = None


_ROWS: Final = TypeAdapter(list[StatsEvent])


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def parse_rows(payload: Any) -> list[StatsEvent]:
    try:
        return _ROWS.validate_python(payload)
    except ValidationError as exc:
        raise private_route_shape_error(ROUTE, exc) from None


class StatsRows:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def rows(
        self,
        app_id: str,
        start: datetime,
        end: datetime,
        *,
        actions: Sequence[str],
        limit: int = MAX_LIMIT,
    ) -> list[StatsEvent]:
        """The rows of ``actions`` with ``start <= created_at < end``, at most ``limit``."""
        body = {
            "appId": app_id,
            "rangeStart": _epoch_ms(start),
            "rangeEnd": _epoch_ms(end),
            "actions": list(actions),
            "limit": limit,
        }
        return parse_rows(await self._http.call("POST", ROUTE, body=body))

    async def complete(
        self,
        app_id: str,
        start: datetime,
        end: datetime,
        *,
        actions: Sequence[str],
        limit: int = MAX_LIMIT,
    ) -> list[StatsEvent]:
        """Every row of the range: one request while the answer is under ``limit`` rows (the
        usual case); a full answer may be cut, so its range is halved and each half asked
        again. A range of one millisecond is taken as it comes."""
        rows = await self.rows(app_id, start, end, actions=actions, limit=limit)
        if len(rows) < limit or end - start <= _MS:
            return rows
        middle = start + ((end - start) // _MS // 2) * _MS
        halves = await asyncio.gather(
            self.complete(app_id, start, middle, actions=actions, limit=limit),
            self.complete(app_id, middle, end, actions=actions, limit=limit),
        )
        return [row for half in halves for row in half]
