"""The account collector against the simulator's ground truth."""

from __future__ import annotations

from capgo_exporter.api import CapgoClient
from capgo_exporter.collect.account import (
    APIKEY_EXPIRY,
    ORG_MEMBERS,
    ORG_PENDING_INVITATIONS,
    AccountCollector,
)
from capgo_exporter.collect.gate import PermissionGate
from capgo_exporter.sim import SimConfig, Simulator
from tests.clock import pinned_now

from .conftest import discover, make_settings, run, sim_client, values


async def test_account_equals_ground_truth(sim: Simulator, client: CapgoClient) -> None:
    settings = make_settings()
    discovery = await discover(client, settings)
    result = await run(AccountCollector(), client, settings, discovery)
    truth = sim.truth()
    assert values(result.samples, ORG_MEMBERS) == {
        (o.id, role): n for o in truth.orgs for role, n in o.members_by_role.items()
    }
    assert values(result.samples, ORG_PENDING_INVITATIONS) == {
        (o.id,): o.pending_invitations for o in truth.orgs
    }
    assert any(o.pending_invitations for o in truth.orgs), "the dataset has invitations"
    expiring = {(str(k.id), k.name): k.expires_at for k in truth.apikeys if k.expires_at}
    assert expiring, "the dataset has keys with an expiry"
    got = values(result.samples, APIKEY_EXPIRY)
    assert set(got) == set(expiring)
    for labels, when in expiring.items():
        assert abs(got[labels] - when.timestamp()) < 1e-3


async def test_a_removed_member_disappears_on_the_next_run(
    sim: Simulator, client: CapgoClient
) -> None:
    settings = make_settings()
    discovery = await discover(client, settings)
    org = discovery.orgs[0].id
    collector = AccountCollector()
    before = values((await run(collector, client, settings, discovery)).samples, ORG_MEMBERS)
    member = next(
        m for m in await client.members.list(org) if not m.is_tmp and m.role != "org_super_admin"
    )
    await client.members.remove(org, member.email)
    after = values((await run(collector, client, settings, discovery)).samples, ORG_MEMBERS)
    assert after.get((org, member.role), 0) == before[(org, member.role)] - 1
    assert after == {(org, role): n for role, n in sim.truth().org(org).members_by_role.items()} | {
        k: v for k, v in after.items() if k[0] != org
    }


async def test_key_that_may_not_list_keys_still_counts_members() -> None:
    sim = Simulator(
        SimConfig(seed=2, orgs=1, apps_per_org=1, devices_per_app=5, keys={"member": "org_member"}),
        clock=pinned_now,
    )
    client = sim_client(sim, requests_per_minute=100_000)
    client.http._http.headers.update({"capgkey": "member", "authorization": "member"})
    settings = make_settings()
    discovery = await discover(client, settings)
    gate = PermissionGate()
    result = await run(AccountCollector(gate=gate), client, settings, discovery)
    await client.aclose()
    assert gate.closed == ["apikeys"]
    assert APIKEY_EXPIRY not in result.samples
    assert values(result.samples, ORG_MEMBERS)
