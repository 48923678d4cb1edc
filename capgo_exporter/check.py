"""``capgo-exporter check``: validate the configuration and the key, endpoint by endpoint.

One line per endpoint probed says whether the key may use it and which collector needs it, so
a user sees before deploying what the exporter will be able to publish. It sends at most one
request per endpoint (never in a loop on 401), so it cannot trip Capgo's lockout of IPs with
repeated failed authentications.

Exit status: 0 when the key works (some parts may still be refused: they are listed); 1 when
Capgo rejected the key or could not be reached.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TextIO

from capgo_exporter.api import AuthenticationError, CapgoClient, CapgoError, is_permission_denied
from capgo_exporter.collect.base import utc_today
from capgo_exporter.collect.registry import all_probes
from capgo_exporter.collectors import REGISTRY

# The collector that lists organizations and apps, which every probe needs first.
_DISCOVERING = next(spec.name for spec in REGISTRY.values() if spec.discovers)


def _line(out: TextIO, ok: str, endpoint: str, outcome: str, collector: str) -> None:
    print(f"{ok:<5} {endpoint:<30} {collector:<11} {outcome}", file=out)


async def run_check(
    client: CapgoClient, where: str, out: TextIO, *, today: Callable[[], date] = utc_today
) -> int:
    print(f"Capgo API: {where}", file=out)
    try:
        orgs = [org async for org in client.organizations.list()]
        _line(out, "ok", "GET /organization", f"{len(orgs)} organizations", _DISCOVERING)
        apps = [app async for app in client.apps.list()]
        _line(out, "ok", "GET /app", f"{len(apps)} apps", _DISCOVERING)
    except AuthenticationError as error:
        _line(out, "FAIL", "GET /organization", str(error), "all")
        if error.key_rejected:
            print("The key was rejected: check CAPGO_API_KEY (or its file).", file=out)
        return 1
    except CapgoError as error:
        _line(out, "FAIL", "GET /organization", str(error), "all")
        return 1
    refused: set[str] = set()
    first_org, first_app = (orgs[0] if orgs else None), (apps[0] if apps else None)
    for probe in all_probes(client, first_org, first_app, today()):
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
