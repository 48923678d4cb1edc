"""Every command against the simulator over TCP: each change shows in a later read, and JSON
output feeds the next command."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from capgo_exporter.sim import SimConfig, Simulator

from .conftest import APP, KEY, Admin, served


def test_org_create_get_update_delete(sim: Simulator, admin: Admin) -> None:
    before = {org["id"] for org in admin.ok("org", "list").lines()}
    assert before == set(sim.org_ids())
    org_id = admin.ok("org", "create", "Initech", "--website", "initech.example").json()["id"]
    assert admin.ok("org", "get", org_id).json()["website"] == "https://initech.example/"
    admin.ok("org", "update", org_id, "--name", "Initech Labs")
    assert admin.ok("org", "get", org_id).json()["name"] == "Initech Labs"
    admin.ok("org", "delete", org_id, "--yes")
    assert {org["id"] for org in admin.ok("org", "list").lines()} == before


def test_members_invite_then_remove(sim: Simulator, admin: Admin) -> None:
    org_id = sim.org_ids()[0]
    email = "contractor@acme.example"  # registered, not yet a member
    admin.ok("members", "invite", org_id, email, "--role", "org_admin")
    invited = {m["email"]: m for m in admin.ok("members", "list", org_id).lines()}[email]
    assert (invited["role"], invited["is_tmp"]) == ("org_admin", True)
    admin.ok("members", "remove", org_id, email, "--yes")
    assert email not in {m["email"] for m in admin.ok("members", "list", org_id).lines()}


def test_apikey_list_get_update_delete(sim: Simulator, admin: Admin) -> None:
    keys = {k["name"]: k["id"] for k in admin.ok("apikey", "list").lines()}
    key_id = str(keys["grafana-acme"])
    admin.ok("apikey", "update", key_id, "--name", "grafana-prod", "--expires-at", "2099-01-01")
    shown = admin.ok("apikey", "get", key_id).json()
    assert shown["name"] == "grafana-prod"
    assert shown["expires_at"].startswith("2099-01-01")
    assert "key" not in shown
    regenerated = admin.ok("apikey", "update", key_id, "--regenerate", "--yes").json()["key"]
    assert next(k for k in sim.world.keys if k.id == int(key_id)).key == regenerated
    admin.ok("apikey", "delete", key_id, "--yes")
    gone = admin("apikey", "get", key_id)
    assert gone.code == 1
    assert "failed_to_get_apikey" in gone.err


def test_apikey_create_explains_the_refusal(sim: Simulator, admin: Admin) -> None:
    result = admin("apikey", "create", "ci", "--org-id", sim.org_ids()[0])
    assert result.code == 1
    assert "console login" in result.err


def _uploaded(admin: Admin) -> list[dict[str, Any]]:
    """Bundles newest first, without the rows every app has (builtin, unknown)."""
    rows: list[dict[str, Any]] = admin.ok("bundle", "list", APP).lines()
    return [b for b in rows if b["name"] not in ("builtin", "unknown")]


def test_app_list_and_get(sim: Simulator, admin: Admin) -> None:
    assert [a["app_id"] for a in admin.ok("app", "list").lines()] == sim.app_ids()
    assert admin.ok("app", "get", APP).json()["owner_org"] == sim.org_ids()[0]


# What `channel get` prints and `channel set --from-json` reproduces.
_SETTINGS = (
    "allow_device_self_set",
    "allow_emulator",
    "allow_dev",
    "allow_prod",
    "disableAutoUpdate",
)
# What decides where devices go: copied only onto the same channel (or by a flag).
_RELEASE = ("public", "rolloutEnabled", "rolloutPercentageBps", "rolloutPauseReason")


def _settings(channel: dict[str, object]) -> dict[str, object]:
    return {name: channel[name] for name in _SETTINGS}


def _release(channel: dict[str, object]) -> dict[str, object]:
    shown = {name: channel[name] for name in _RELEASE}
    version, rollout = channel["version"], channel["rollout_version_info"]
    assert isinstance(version, dict)
    return shown | {
        "bundle": version["name"],
        "rollout_bundle": rollout["name"] if isinstance(rollout, dict) else None,
        "paused": channel["rolloutPausedAt"] is not None,
    }


def test_channel_get_output_is_what_channel_set_accepts(
    sim: Simulator, admin: Admin, tmp_path: Path
) -> None:
    staging = admin.ok("channel", "get", APP, "staging").json()
    beta = admin.ok("channel", "get", APP, "beta").json()
    assert _settings(beta) != _settings(staging)
    assert _release(beta) != _release(staging)
    saved = tmp_path / "staging.json"
    saved.write_text(json.dumps(staging))
    admin.ok("channel", "set", APP, "beta", "--from-json", str(saved))
    copied = admin.ok("channel", "get", APP, "beta").json()
    assert _settings(copied) == _settings(staging)
    assert _release(copied) == _release(beta)  # a copy moves no device

    # Saved, edited and put back onto the same channel: every field is the user's.
    beta_file = tmp_path / "beta.json"
    beta_file.write_text(json.dumps(staging | {"name": "beta"}))
    admin.ok("channel", "set", APP, "beta", "--from-json", str(beta_file))
    restored = admin.ok("channel", "get", APP, "beta").json()
    assert _settings(restored) == _settings(staging)
    assert _release(restored) == _release(staging)


def test_channel_set_reads_a_channel_from_stdin(
    sim: Simulator, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    production = admin.ok("channel", "get", APP, "production").json()
    beta = admin.ok("channel", "get", APP, "beta").json()
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(production)))
    admin.ok("channel", "set", APP, "beta", "--from-json", "-")
    copied = admin.ok("channel", "get", APP, "beta").json()
    assert _settings(copied) == _settings(production)
    assert copied["version"] == beta["version"]


def test_channel_set_flags_override_the_file_and_create_channels(
    sim: Simulator, admin: Admin, tmp_path: Path
) -> None:
    saved = tmp_path / "beta.json"
    saved.write_text(admin.ok("channel", "get", APP, "beta").out)
    admin.ok("channel", "set", APP, "beta", "--from-json", str(saved),
             "--disable-auto-update", "minor", "--no-self-assign")  # fmt: skip
    beta = admin.ok("channel", "get", APP, "beta").json()
    assert (beta["disableAutoUpdate"], beta["allow_device_self_set"]) == ("minor", False)

    oldest = _uploaded(admin)[-1]["name"]
    admin.ok("channel", "set", APP, "qa", "--bundle", oldest, "--no-public", "--no-prod")
    qa = admin.ok("channel", "get", APP, "qa").json()
    assert (qa["version"]["name"], qa["allow_prod"]) == (oldest, False)


def test_channel_rollout_flags(sim: Simulator, admin: Admin) -> None:
    newest = admin.ok("bundle", "list", APP).lines()[0]["name"]
    admin.ok("channel", "set", APP, "beta", "--rollout-bundle", newest,
             "--rollout-percentage", "10", "--rollout-enable", "--rollout-pause",
             "--pause-reason", "crash spike")  # fmt: skip
    beta = admin.ok("channel", "get", APP, "beta").json()
    assert beta["rolloutPercentageBps"] == 1000
    assert beta["rolloutEnabled"] is True
    assert beta["rolloutPauseReason"] == "crash spike"
    admin.ok("channel", "set", APP, "beta", "--rollout-resume")
    assert admin.ok("channel", "get", APP, "beta").json()["rolloutPausedAt"] is None


def test_channel_delete(sim: Simulator, admin: Admin) -> None:
    admin.ok("channel", "delete", APP, "beta", "--yes")
    names = [c["name"] for c in admin.ok("channel", "list", APP).lines()]
    assert names == ["production", "staging"]


def test_device_list_walks_every_page(sim: Simulator, admin: Admin) -> None:
    devices = admin.ok("device", "list", APP).lines()
    assert len({d["device_id"] for d in devices}) == len(devices) == 120
    assert sim.request_counts()["GET /device"] == 3  # pages of 50
    future = admin.ok("device", "list", APP, "--updated-since", "2999-01-01")
    assert future.out == ""


def test_device_list_updated_since_returns_only_newer_devices(sim: Simulator, admin: Admin) -> None:
    # Capgo keeps devices updated strictly after the time, to the millisecond.
    since = (sim.now() - timedelta(milliseconds=1)).isoformat()
    touched = set(sim.touch_devices(APP, 5))
    newer = admin.ok("device", "list", APP, "--updated-since", since).lines()
    assert {d["device_id"] for d in newer} == touched


def test_device_set_and_unset_channel(sim: Simulator, admin: Admin) -> None:
    device_id = admin.ok("device", "list", APP).lines()[0]["device_id"]
    admin.ok("device", "set-channel", APP, device_id, "beta")
    assert admin.ok("device", "get", APP, device_id).json()["channel"] == "beta"
    admin.ok("device", "unset-channel", APP, device_id)
    assert admin.ok("device", "get", APP, device_id).json()["channel"] is None


def test_device_ids_from_stdin_move_many_devices_in_one_command(
    sim: Simulator, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [d["device_id"] for d in admin.ok("device", "list", APP).lines()[:4]]
    # As `device list | jq -r .device_id` writes them, with a blank line and spaces in between.
    monkeypatch.setattr(
        sys, "stdin", io.StringIO(f"{ids[0]}\n\n  {ids[1]}  \n" + "\n".join(ids[2:]))
    )
    moved = admin.ok("device", "set-channel", APP, "-", "beta", "-o", "table")
    assert moved.out.splitlines() == [f"device {d} now gets channel beta" for d in ids]
    assert all(admin.ok("device", "get", APP, d).json()["channel"] == "beta" for d in ids)

    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(ids)))
    assert len(admin.ok("device", "unset-channel", APP, "-").lines()) == 4  # Capgo's answers
    assert all(admin.ok("device", "get", APP, d).json()["channel"] is None for d in ids)


def test_no_device_id_on_stdin_is_a_usage_error(
    sim: Simulator, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n  \n"))
    result = admin("device", "set-channel", APP, "-", "beta")
    assert result.code == 2
    assert result.err.count("\n") <= 2  # argparse's usage line, then ours
    assert "no device id on standard input" in result.err


def test_bundle_list_ids_feed_set_channel(sim: Simulator, admin: Admin) -> None:
    oldest = _uploaded(admin)[-1]
    beta_id = str(admin.ok("channel", "get", APP, "beta").json()["id"])
    for channel in ("beta", beta_id):  # by name or by the id `channel get` prints
        admin.ok("bundle", "set-channel", APP, str(oldest["id"]), channel)
        assert admin.ok("channel", "get", APP, "beta").json()["version"]["id"] == oldest["id"]


def test_bundle_delete_one_then_all(sim: Simulator, admin: Admin) -> None:
    bundles = _uploaded(admin)
    linked = {
        ref["id"]
        for c in admin.ok("channel", "list", APP).lines()
        for ref in (c["version"], c["rollout_version_info"])
        if ref
    }
    unlinked = [b for b in bundles if b["id"] not in linked]
    admin.ok("bundle", "delete", APP, unlinked[0]["name"], "--yes")
    left = {b["id"] for b in admin.ok("bundle", "list", APP).lines()}
    assert unlinked[0]["id"] not in left
    refused = admin("bundle", "delete", APP, bundles[0]["name"], "--yes")  # newest: linked
    assert refused.code == 1
    assert "cannot_delete_linked_version" in refused.err
    before = len(admin.ok("bundle", "list", APP).lines())
    table = admin.ok("bundle", "delete", APP, "--all", "--yes", "-o", "table").out
    assert {b["id"] for b in _uploaded(admin)} == linked
    after = len(admin.ok("bundle", "list", APP).lines())
    # A bulk delete says how many it deleted, counted by Capgo's own list.
    assert before > after
    assert table.startswith(f"deleted {before - after} unused bundles of {APP}; {after} remain")


@pytest.mark.parametrize("scope", ["app", "org", "user"])
def test_stats_cumulative_is_the_running_sum_of_daily(
    sim: Simulator, admin: Admin, scope: str
) -> None:
    subject = {"app": [APP], "org": [sim.org_ids()[0]], "user": []}[scope]
    window = ["--from", "2026-01-01", "--to", "2026-01-10"]
    total = admin.ok("stats", scope, *subject, *window).lines()
    daily = admin.ok("stats", scope, *subject, *window, "--daily").lines()
    assert [row["date"] for row in total] == [f"2026-01-{d:02d}" for d in range(1, 11)]
    assert total[-1]["bandwidth"] == sum(row["bandwidth"] for row in daily)


@pytest.fixture
def newer_sim(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[Simulator]:
    """The admin's simulator as newer Capgo answers (see SimConfig.newer_capgo)."""
    simulator = Simulator(
        SimConfig(
            seed=3,
            orgs=1,
            apps_per_org=1,
            devices_per_app=120,
            keys={KEY: "org_super_admin"},
            newer_capgo=True,
        )
    )
    with served(simulator, monkeypatch):
        yield simulator


@pytest.mark.parametrize("capgo", ["older", "newer"])
def test_capgo_now_and_before(request: pytest.FixtureRequest, admin: Admin, capgo: str) -> None:
    request.getfixturevalue("sim" if capgo == "older" else "newer_sim")
    devices = admin.ok("device", "list", APP).lines()
    wanted = next(d["custom_id"] for d in devices if d["custom_id"])
    found = admin.ok("device", "list", APP, "--custom-id", wanted).lines()
    assert {d["device_id"] for d in found} == {
        d["device_id"] for d in devices if d["custom_id"] == wanted
    }
    assert len(_uploaded(admin)) > 0  # the walk ends on the empty page, 400 or []
    production = admin.ok("channel", "get", APP, "production").json()
    current = admin.ok("channel", "current-bundle", APP, "production")
    assert current.json()["bundle_name"] == production["version"]["name"]
    assert ("has no GET /channel/current-bundle" in current.err) == (capgo == "older")
