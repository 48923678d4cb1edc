"""The Capgo API client: one object, one namespace per API area.

    async with CapgoClient.create(ClientOptions(api_key=SecretStr(key))) as capgo:
        async for app in capgo.apps.list():
            rows = await capgo.statistics.app(app.app_id, cycle_start, tomorrow)

All areas share one :class:`~capgo_exporter.api.core.CapgoHTTP`, so they share the request
budget, the concurrency cap, the retry policy and the observer. How it talks to Capgo (URL,
key, timeouts, budget, retries) is one :class:`~capgo_exporter.api.options.ClientOptions`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from capgo_exporter.api.apikeys import ApiKeys
from capgo_exporter.api.apps import Apps
from capgo_exporter.api.bundles import Bundles
from capgo_exporter.api.channels import Channels
from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.devices import Devices
from capgo_exporter.api.insights import Insights
from capgo_exporter.api.observer import RequestObserver
from capgo_exporter.api.options import ClientOptions
from capgo_exporter.api.orgs import Members, Organizations
from capgo_exporter.api.statistics import Statistics
from capgo_exporter.api.stats_rows import StatsRows


class CapgoClient:
    @classmethod
    def create(
        cls,
        options: ClientOptions,
        *,
        observer: RequestObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> CapgoClient:
        """A client with its own budget; ``transport`` plugs in the simulator (tests, demo)."""
        return cls(CapgoHTTP(options, observer=observer, transport=transport))

    def __init__(self, http: CapgoHTTP) -> None:
        self.http = http
        self.organizations = Organizations(http)
        self.members = Members(http)
        self.apikeys = ApiKeys(http)
        self.apps = Apps(http)
        self.channels = Channels(http)
        self.devices = Devices(http)
        self.bundles = Bundles(http)
        self.statistics = Statistics(http)
        self.insights = Insights(http)
        self.stats_rows = StatsRows(http)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
