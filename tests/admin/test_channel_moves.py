"""``channel set`` cannot move devices by surprise: a copy of another channel leaves its public
flag, bundle and rollout behind, and a change that moves devices is said before it is sent (and
in a dry run)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from capgo_exporter.admin.moves import device_moves
from capgo_exporter.api.models import Channel
from capgo_exporter.sim import Simulator

from .conftest import APP, KEY, Admin


def _get(admin: Admin, name: str) -> dict[str, object]:
    doc: dict[str, object] = admin.ok("channel", "get", APP, name).json()
    return doc


def test_the_readme_copy_leaves_production_the_public_channel(
    sim: Simulator, admin: Admin, tmp_path: Path
) -> None:
    production, beta = _get(admin, "production"), _get(admin, "beta")
    saved = tmp_path / "prod.json"
    saved.write_text(admin.ok("channel", "get", APP, "production", "-o", "json").out)

    dry = admin.ok("channel", "set", APP, "beta", "--from-json", str(saved), "--dry-run")
    body = dry.json()["body"]
    for field in ("public", "version", "rolloutVersion", "rolloutEnabled", "rolloutPercentageBps"):
        assert field not in body
    assert body["disableAutoUpdate"] == production["disableAutoUpdate"]
    assert "holds channel production, not beta: left out public, version" in dry.err
    assert "warning" not in dry.err  # nothing sent would move a device

    result = admin.ok("channel", "set", APP, "beta", "--from-json", str(saved))
    assert "left out public" in result.err
    assert (_get(admin, "production")["public"], _get(admin, "beta")["public"]) == (True, False)
    assert _get(admin, "beta")["version"] == beta["version"]


def test_a_flag_names_what_the_copy_leaves_out(
    sim: Simulator, admin: Admin, tmp_path: Path
) -> None:
    saved = tmp_path / "prod.json"
    saved.write_text(admin.ok("channel", "get", APP, "production").out)
    result = admin.ok("channel", "set", APP, "beta", "--from-json", str(saved), "--public")
    assert "warning: this makes beta the public channel of com.acme.shop" in result.err
    assert _get(admin, "beta")["public"] is True


def test_a_dry_run_says_what_would_move_and_sends_nothing(sim: Simulator, admin: Admin) -> None:
    result = admin.ok("channel", "set", APP, "beta", "--public", "--bundle", "1.0.0", "--dry-run")
    lines = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert lines == [
        "warning: if channel beta differs now: this makes beta the public channel of "
        "com.acme.shop: every device without a channel override moves to it (and leaves the "
        "app's public channel now)",
        "warning: if channel beta differs now: this changes the bundle of beta to bundle "
        "1.0.0: its devices will install it",
    ]
    assert sim.request_counts() == {}


def test_no_warning_when_nothing_would_move(sim: Simulator, admin: Admin) -> None:
    production = _get(admin, "production")
    version = production["version"]
    assert isinstance(version, dict)
    result = admin.ok("channel", "set", APP, "production", "--public", "--bundle", version["name"])
    assert "warning" not in result.err
    result = admin.ok("channel", "set", APP, "beta", "--no-public", "--no-self-assign")
    assert "warning" not in result.err


def test_a_new_channel_with_a_bundle_is_announced(sim: Simulator, admin: Admin) -> None:
    newest = admin.ok("bundle", "list", APP).lines()[0]["name"]
    result = admin.ok("channel", "set", APP, "qa", "--bundle", newest, "--no-public")
    assert result.err.splitlines() == [
        f"warning: this changes the bundle of qa to bundle {newest}: its devices will install it"
    ]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[respx.MockRouter]:
    monkeypatch.setenv("CAPGO_API_URL", "https://api.capgo.test")
    monkeypatch.setenv("CAPGO_API_KEY", KEY)
    with respx.mock(base_url="https://api.capgo.test", assert_all_called=True) as router:
        yield router


def test_the_warning_is_printed_before_the_request_is_sent(
    api: respx.MockRouter, admin: Admin, capsys: pytest.CaptureFixture[str]
) -> None:
    beta = {"id": 34, "name": "beta", "public": False, "version": {"id": 1, "name": "1.0.0"}}
    api.get("/channel").respond(200, json=beta)
    printed_before: list[str] = []

    def post(request: httpx.Request) -> httpx.Response:
        printed_before.append(capsys.readouterr().err)
        return httpx.Response(200, json={"status": "ok"})

    api.post("/channel").mock(side_effect=post)
    admin.ok("channel", "set", APP, "beta", "--public", "-o", "json")
    assert "warning: this makes beta the public channel" in printed_before[0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"public": True}, "public channel"),
        ({"public": False}, "private"),
        ({"version": "builtin"}, "the bundle built into the app"),
        ({"rolloutPercentage": 50}, "rollout of beta (rolloutPercentage)"),
        ({"rolloutEnabled": True}, "rollout of beta (rolloutEnabled)"),
        ({"rolloutPaused": False}, "rollout of beta (rolloutPaused)"),
    ],
)
def test_each_change_that_moves_devices_is_named(body: dict[str, object], expected: str) -> None:
    (line,) = device_moves(APP, "beta", body, None, known=False)
    assert line.startswith("if channel beta differs now: ")
    assert expected in line


def test_what_is_already_so_moves_nothing() -> None:
    current = Channel.model_validate(
        json.loads(
            '{"id": 1, "name": "beta", "public": true, "version": {"id": 2, "name": "1.1.0"},'
            '"rollout_version_info": {"id": 3, "name": "1.2.0"}, "rolloutEnabled": true,'
            '"rolloutPercentageBps": 5000, "rolloutPausedAt": null}'
        )
    )
    same = {"public": True, "version": "1.1.0", "rolloutPercentage": 50, "rolloutEnabled": True}
    assert device_moves(APP, "beta", same, current, known=True) == []
    assert len(device_moves(APP, "beta", same | {"rolloutPercentage": 60}, current, True)) == 1
