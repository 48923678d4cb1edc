"""The account collector: members per role, pending invitations, and API key expiries.

Members come from ``/organization/members`` (one request per org; pending invitations are the
rows with ``is_tmp``). Key expiries come from ``/apikey`` (one request), which Capgo answers
only to keys allowed to manage keys (org admin, super admin, apikey manager); for other keys it
is switched off with one log line and tried again hourly.

Exposition::

    capgo_org_members{org_id="…",role="org_super_admin"} 1.0
    capgo_org_pending_invitations{org_id="…"} 2.0
    capgo_apikey_expiry_timestamp_seconds{apikey_id="10",apikey_name="ci"} 1.7985e+09
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.models import App, Organization
from capgo_exporter.collect import labels
from capgo_exporter.collect.base import BaseCollector, CollectContext, CollectResult, Probe
from capgo_exporter.collect.gate import guarded
from capgo_exporter.collect.samples import SampleSet
from capgo_exporter.collectors import CollectorName
from capgo_exporter.metrics import MetricSet
from capgo_exporter.settings import Settings

# The metrics this collector fills (catalogue.py finds them through the registry).
METRICS = MetricSet("account")
ORG_MEMBERS = METRICS.gauge(
    "capgo_org_members",
    "Members of the organization per role, pending invitations excluded "
    "(GET /organization/members).",
    "org_id",
    "role",
)
ORG_PENDING_INVITATIONS = METRICS.gauge(
    "capgo_org_pending_invitations",
    "Invitations to the organization not yet accepted (members with is_tmp).",
    "org_id",
)
APIKEY_EXPIRY = METRICS.gauge(
    "capgo_apikey_expiry_timestamp_seconds",
    "Expiry of the API keys that have one (GET /apikey; needs a key allowed to manage keys).",
    "apikey_id",
    "apikey_name",
)


class AccountCollector(BaseCollector):
    name: CollectorName = "account"

    async def collect(self, context: CollectContext) -> CollectResult:
        client, gate = context.client, self._gate
        orgs = self.discovery_of(context).orgs
        members_per_org, keys = await asyncio.gather(
            asyncio.gather(
                *(
                    guarded(gate, context.log, f"members:{org.id}", client.members.list(org.id))
                    for org in orgs
                )
            ),
            guarded(gate, context.log, "apikeys", client.apikeys.list()),
        )
        samples = SampleSet()
        for org, members in zip(orgs, members_per_org, strict=True):
            if members is None:
                continue
            roles = Counter(labels.text(m.role) for m in members if not m.is_tmp)
            for role, count in sorted(roles.items()):
                samples.set(ORG_MEMBERS, count, org.id, role)
            samples.set(ORG_PENDING_INVITATIONS, sum(1 for m in members if m.is_tmp), org.id)
        for key in keys or ():
            if key.expires_at is not None:
                samples.set(
                    APIKEY_EXPIRY,
                    key.expires_at.timestamp(),
                    str(key.id),
                    labels.text(key.name),
                )
        return CollectResult(samples.freeze())


def build(settings: Settings) -> AccountCollector:
    return AccountCollector()


def probes(
    client: CapgoClient, org: Organization | None, app: App | None, today: date
) -> list[Probe]:
    found: list[Probe] = []
    if org is not None:
        org_id = org.id
        found.append(
            Probe("GET /organization/members", "account", lambda: _members(client, org_id))
        )
    found.append(Probe("GET /apikey", "account", lambda: _keys(client)))
    return found


async def _members(client: CapgoClient, org_id: str) -> str:
    return f"{len(await client.members.list(org_id))} members and invitations"


async def _keys(client: CapgoClient) -> str:
    return f"{len(await client.apikeys.list())} API keys (expiries)"
