"""Confirmation, --dry-run and exit statuses: 0 success, 1 Capgo said no, 2 usage error."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from capgo_exporter.sim import Simulator

from .conftest import APP, KEY, Admin


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _terminal(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    monkeypatch.setattr(sys, "stdin", FakeTerminal(answer))


def _channels(admin: Admin) -> list[str]:
    return [c["name"] for c in admin.ok("channel", "list", APP).lines()]


def test_off_a_terminal_deleting_needs_yes(sim: Simulator, admin: Admin) -> None:
    # pytest's stdin is not a terminal, as in CI or cron.
    result = admin("channel", "delete", APP, "beta")
    assert result.code == 2
    assert "--yes" in result.err
    assert "DELETE /channel" not in sim.request_counts()
    assert "beta" in _channels(admin)


def test_on_a_terminal_yes_deletes(
    sim: Simulator, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    _terminal(monkeypatch, "y\n")
    result = admin.ok("channel", "delete", APP, "beta")
    assert "Delete channel beta of com.acme.shop? [y/N]" in result.err
    assert "beta" not in _channels(admin)


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])
def test_on_a_terminal_anything_but_yes_sends_nothing(
    sim: Simulator, admin: Admin, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    _terminal(monkeypatch, answer)
    result = admin("bundle", "delete", APP, "--all")
    assert result.code == 1
    assert "nothing was sent" in result.err
    assert "DELETE /bundle" not in sim.request_counts()


@pytest.mark.parametrize(
    "argv",
    [
        ["org", "delete", "o1"],
        ["members", "remove", "o1", "x@acme.test"],
        ["apikey", "delete", "10"],
        ["apikey", "update", "10", "--regenerate"],
        ["channel", "delete", APP, "beta"],
        ["bundle", "delete", APP, "1.0.0"],
        ["bundle", "delete", APP, "--all"],
    ],
)
def test_every_destructive_command_asks(sim: Simulator, admin: Admin, argv: list[str]) -> None:
    assert admin(*argv).code == 2
    assert sim.request_counts() == {}


def test_deleting_every_bundle_needs_all_even_with_yes(sim: Simulator, admin: Admin) -> None:
    result = admin("bundle", "delete", APP, "--yes")
    assert result.code == 2
    assert "--all" in result.err
    assert sim.request_counts() == {}


def test_dry_run_prints_the_request_and_sends_nothing(sim: Simulator, admin: Admin) -> None:
    result = admin.ok("channel", "set", APP, "beta", "--bundle", "1.0.0", "--dry-run")
    assert result.json() == {
        "dry_run": True,
        "method": "POST",
        "url": f"{os.environ['CAPGO_API_URL']}/channel",
        "body": {"app_id": APP, "channel": "beta", "version": "1.0.0"},
    }
    assert sim.request_counts() == {}


def test_dry_run_of_a_delete_needs_no_confirmation_and_shows_the_query(
    sim: Simulator, admin: Admin
) -> None:
    result = admin.ok("bundle", "delete", APP, "1.0.0", "--dry-run", "-o", "table")
    assert result.out.startswith("dry run, not sent: DELETE http://")
    assert f"/bundle?app_id={APP}&version=1.0.0" in result.out
    assert sim.request_counts() == {}


def test_dry_run_never_prints_the_key(sim: Simulator, admin: Admin) -> None:
    # Admin itself asserts the key is absent; here the key is also in the flags.
    admin.ok("--capgo.api-key", KEY, "device", "set-channel", APP, "d1", "beta", "--dry-run")
    assert sim.request_counts() == {}


def test_dry_run_works_without_a_key_and_with_demo(admin: Admin) -> None:
    result = admin.ok("--demo", "org", "delete", "o1", "--dry-run")
    assert result.json()["url"] == "http://capgo-simulator.invalid/organization?orgId=o1"


def test_demo_can_follow_the_action(admin: Admin) -> None:
    assert len(admin.ok("app", "list", "--demo").lines()) == 6


def test_dry_run_set_channel_needs_a_channel_id(sim: Simulator, admin: Admin) -> None:
    result = admin("bundle", "set-channel", APP, "12", "beta", "--dry-run")
    assert result.code == 2
    assert "numeric id" in result.err
    assert sim.request_counts() == {}


def test_without_a_key_is_exit_2_and_says_how(admin: Admin) -> None:
    result = admin("org", "list")
    assert result.code == 2
    assert "CAPGO_API_KEY" in result.err
    assert "--demo" in result.err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["stats", "user", "--from", "yesterday"], "--from"),
        (["stats", "user", "--from", "2026-02-02", "--to", "2026-02-01"], "--to"),
        (["stats", "user", "--graph", "mau"], "--out"),
        (["device", "list", APP, "--updated-since", "soon"], "--updated-since"),
        (["channel", "set", APP, "beta"], "nothing to set"),
        (["channel", "set", APP, "beta", "--rollout-percentage", "120"], "0 to 100"),
        (["apikey", "update", "10"], "nothing to change"),
        (["channel", "teleport", APP], "invalid choice"),
    ],
)
def test_usage_errors_are_exit_2(sim: Simulator, admin: Admin, argv: list[str], named: str) -> None:
    result = admin(*argv)
    assert result.code == 2
    assert named in result.err
    assert sim.request_counts() == {}


def test_from_json_errors_are_one_line(sim: Simulator, admin: Admin, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for source in (str(broken), str(tmp_path / "missing.json")):
        result = admin("channel", "set", APP, "beta", "--from-json", source)
        assert result.code == 2
        assert result.err.count("\n") == 1


def test_unreachable_capgo_is_exit_1(admin: Admin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGO_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CAPGO_API_KEY", KEY)
    result = admin("--capgo.max-retries", "0", "app", "list")
    assert result.code == 1
    assert "cannot reach Capgo" in result.err


def _subprocess(*argv: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPGO_")}
    return subprocess.run(
        [sys.executable, "-m", "capgo_exporter", "admin", *argv],
        capture_output=True,
        text=True,
        env=env | {"HOME": str(home)},
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_subprocess_api_error_is_exit_1_without_traceback(tmp_path: Path) -> None:
    result = _subprocess("--demo", "channel", "get", APP, "nope", home=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "cannot_find_version" in result.stderr


def test_subprocess_refusal_is_exit_2_without_traceback(tmp_path: Path) -> None:
    result = _subprocess("--demo", "bundle", "delete", APP, "--all", home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
