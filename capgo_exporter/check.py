"""``capgo-exporter check``: validate the configuration and the key, endpoint by endpoint.

One line per endpoint probed says whether the key may use it and which collector needs it, so
a user sees before deploying what the exporter will be able to publish. It sends at most one
request per endpoint (never in a loop on 401), so it cannot trip Capgo's lockout of IPs with
repeated failed authentications.

Exit status: 0 when the key works (some parts may still be refused: they are listed); 1 when
Capgo rejected the key or could not be reached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from capgo_exporter.api import AuthenticationError, CapgoClient, CapgoError, is_permission_denied
from capgo_exporter.api.models import App, Organization


@dataclass(frozen=True)
class Probe:
    endpoint: str
    collector: str
    run: Callable[[], Awaitable[str]]


async def _count(iterator: Any, noun: str) -> str:
    total = 0
    async for _ in iterator:
        total += 1
    return f"{total} {noun}"


def _probes(client: CapgoClient, org: Organization | None, app: App | None) -> list[Probe]:
    today = datetime.now(UTC).date()
    # Yesterday and today: the smallest range that answers whatever the time of day.
    start, end = today - timedelta(days=1), today + timedelta(days=1)
    probes: list[Probe] = []
    if app is not None:
        app_id = app.app_id
        probes += [
            Probe(
                "GET /channel",
                "inventory",
                lambda: _count(client.channels.list(app_id), "channels"),
            ),
            Probe(
                "GET /bundle", "inventory", lambda: _count(client.bundles.list(app_id), "bundles")
            ),
            Probe(
                "GET /device",
                "devices",
                lambda: _first_device_page(client, app_id),
            ),
            Probe(
                "GET /statistics/app/{app_id}",
                "statistics",
                lambda: _rows(client.statistics.app(app_id, start, end)),
            ),
        ]
    if org is not None:
        org_id = org.id
        probes += [
            Probe(
                "GET /statistics/org/{org_id}",
                "statistics",
                lambda: _rows(client.statistics.org(org_id, start, end)),
            ),
            Probe(
                "GET /organization/members",
                "account",
                lambda: _members(client, org_id),
            ),
        ]
    probes.append(Probe("GET /apikey", "account", lambda: _keys(client)))
    return probes


async def _first_device_page(client: CapgoClient, app_id: str) -> str:
    async for page in client.devices.raw_pages(app_id, page_size=1):
        return "devices readable" if page else "no devices yet"
    return "no devices yet"


async def _rows(rows: Awaitable[list[Any]]) -> str:
    return f"{len(await rows)} days of statistics"


async def _members(client: CapgoClient, org_id: str) -> str:
    return f"{len(await client.members.list(org_id))} members and invitations"


async def _keys(client: CapgoClient) -> str:
    return f"{len(await client.apikeys.list())} API keys (expiries)"


def _line(out: TextIO, ok: str, endpoint: str, outcome: str, collector: str) -> None:
    print(f"{ok:<5} {endpoint:<30} {collector:<11} {outcome}", file=out)


async def run_check(client: CapgoClient, where: str, out: TextIO) -> int:
    print(f"Capgo API: {where}", file=out)
    try:
        orgs = [org async for org in client.organizations.list()]
        _line(out, "ok", "GET /organization", f"{len(orgs)} organizations", "inventory")
        apps = [app async for app in client.apps.list()]
        _line(out, "ok", "GET /app", f"{len(apps)} apps", "inventory")
    except AuthenticationError as error:
        _line(out, "FAIL", "GET /organization", str(error), "all")
        if error.key_rejected:
            print("The key was rejected: check CAPGO_API_KEY (or its file).", file=out)
        return 1
    except CapgoError as error:
        _line(out, "FAIL", "GET /organization", str(error), "all")
        return 1
    refused: set[str] = set()
    for probe in _probes(client, orgs[0] if orgs else None, apps[0] if apps else None):
        try:
            outcome = await probe.run()
        except CapgoError as error:
            if not is_permission_denied(error):
                _line(out, "FAIL", probe.endpoint, str(error), probe.collector)
                return 1
            refused.add(probe.collector)
            _line(
                out, "DENY", probe.endpoint, f"{error} (skipped by the exporter)", probe.collector
            )
        else:
            _line(out, "ok", probe.endpoint, outcome, probe.collector)
    if not apps:
        print(
            "No app is visible to this key: app, channel and device metrics stay empty.", file=out
        )
    if refused:
        print(
            "Refused parts are skipped (logged once, retried hourly); "
            f"the rest works: {', '.join(sorted(refused))} partly limited.",
            file=out,
        )
    else:
        print("Every collector can run with this key.", file=out)
    return 0
