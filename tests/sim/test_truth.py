"""Ground truth agrees with what the HTTP API returns, at small size."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from capgo_exporter.sim import Simulator
from capgo_exporter.sim.timeutil import billing_cycle_start
from tests.clock import PINNED_NOW, day
from tests.sim.conftest import APP, NOW


def _devices(client: httpx.Client) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            "/device",
            params={"app_id": APP, "limit": 999, **({"cursor": cursor} if cursor else {})},
        ).json()
        rows += page["data"]
        if not page["hasMore"]:
            return rows
        cursor = page["nextCursor"]


def test_org_usage_matches_cycle_to_date_statistics(sim: Simulator, client: httpx.Client) -> None:
    # A cycle that started 5 days before the pinned day.
    start = PINNED_NOW.date() - timedelta(days=5)
    truth = sim.truth(cycle_start_day=start.day)
    org = truth.orgs[0]
    assert org.billing_cycle_start == datetime(start.year, start.month, start.day, tzinfo=UTC)
    rows = client.get(
        f"/statistics/org/{org.id}", params={"from": start.isoformat(), "to": day(1)}
    ).json()
    last = rows[-1]
    assert (last["mau"], last["storage"], last["bandwidth"], last["build_time_seconds"]) == (
        org.mau,
        org.storage_bytes,
        org.bandwidth_bytes,
        org.build_time_seconds,
    )
    assert org.mau == sum(a.mau for a in org.apps)


def test_members_and_invitations(sim: Simulator) -> None:
    org = sim.truth().orgs[0]
    assert org.pending_invitations == 2
    assert org.members_by_role == {
        "org_super_admin": 1,
        "org_admin": 1,
        "org_member": 1,
        "org_billing_admin": 1,
    }


def test_device_aggregates_match_a_full_walk(sim: Simulator, client: httpx.Client) -> None:
    app = sim.truth().app(APP)
    rows = _devices(client)
    assert app.devices == len(rows) == 300
    by = Counter((d["platform"], d["version_name"], d["is_prod"], d["is_emulator"]) for d in rows)
    assert dict(by) == dict(app.devices_by)
    assert dict(Counter(d["plugin_version"] for d in rows)) == dict(app.devices_by_plugin)
    assert dict(Counter(d["channel"] for d in rows if "channel" in d)) == dict(
        app.channel_overrides
    )
    builtin = Counter(
        d["platform"]
        for d in rows
        if d["version_name"] in (d["version_build"], "builtin", "unknown")
    )
    assert dict(builtin) == dict(app.on_builtin)
    for window, days in (("1d", 1), ("7d", 7), ("30d", 30)):
        cutoff = NOW.timestamp() - days * 86400
        seen = Counter(
            d["platform"]
            for d in rows
            if datetime.fromisoformat(d["updated_at"].replace("Z", "+00:00")).timestamp() >= cutoff
        )
        assert dict(seen) == dict(app.seen[window])
        assert sum(seen.values()) > 0
    assert sum(app.seen["1d"].values()) < sum(app.seen["30d"].values()) < 300


def test_bundles_folded_into_other(sim: Simulator) -> None:
    app = sim.truth(max_bundles_per_app=2).app(APP)
    assert len({bundle for _, bundle, _, _ in app.devices_by} - {"other"}) == 2
    assert sum(app.devices_by.values()) == 300


def test_bundles_and_channels_match_http(sim: Simulator, client: httpx.Client) -> None:
    app = sim.truth().app(APP)
    bundles = client.get("/bundle", params={"app_id": APP}).json()
    assert app.bundles == len(bundles)
    assert set(app.bundle_created) == {b["name"] for b in bundles}
    newest = max(b["created_at"] for b in bundles)
    assert app.latest_bundle_created is not None
    assert app.latest_bundle_created.isoformat(timespec="milliseconds")[:23] == newest[:23]
    production = next(c for c in app.channels if c.name == "production")
    assert (production.bundle, production.public, production.rollout_ratio) == ("1.2.2", True, 0.25)
    staging = next(c for c in app.channels if c.name == "staging")
    assert staging.rollout_paused is True
    overrides = sum(app.channel_overrides.values())
    assert production.served_devices == 300 - overrides
    assert production.adoption_ratio is not None
    assert 0 < production.adoption_ratio < 1


def test_bundle_usage_truth_is_yesterdays_share(sim: Simulator, client: httpx.Client) -> None:
    app = sim.truth().app(APP)
    usage = client.get(
        f"/statistics/app/{APP}/bundle_usage", params={"from": day(-1), "to": day(-1)}
    ).json()
    for dataset in usage["datasets"]:
        assert dataset["data"][0] / 100 == pytest.approx(
            app.bundle_usage[dataset["label"]], abs=1e-4
        )


def test_writes_change_truth(sim: Simulator, client: httpx.Client) -> None:
    before = sim.truth().app(APP).bundles
    client.delete("/bundle", params={"app_id": APP, "version": "1.1.0"})
    assert sim.truth().app(APP).bundles == before - 1


def test_apikeys_listed_with_expiry(sim: Simulator) -> None:
    keys = {k.name: k for k in sim.truth().apikeys}
    assert keys["grafana-acme"].expires_at is None
    assert keys["ci-deploy-acme"].expires_at is not None


@pytest.mark.parametrize(
    ("today", "day", "expected"),
    [
        (date(2026, 3, 15), 1, date(2026, 3, 1)),
        (date(2026, 3, 15), 20, date(2026, 2, 20)),
        (date(2026, 3, 5), 31, date(2026, 2, 28)),
        (date(2026, 1, 5), 10, date(2025, 12, 10)),
        (date(2026, 4, 30), 31, date(2026, 4, 30)),
    ],
)
def test_billing_cycle_start_clamps_to_month_length(today: date, day: int, expected: date) -> None:
    assert billing_cycle_start(today, day).date() == expected
