"""--clock.start: the exporter's calendar (and the --demo simulator's) from a chosen instant,
its own timing on the system clock."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from capgo_exporter.cli import main
from capgo_exporter.clock import Clock
from capgo_exporter.settings import SettingsError, load_settings

# What the system clock reads in these tests: nothing here depends on the real date.
SYSTEM_NOW = datetime(2026, 7, 4, 9, 30, tzinfo=UTC).timestamp()


def _clock_start(value: str) -> datetime | None:
    return load_settings({"clock_start": value}, environ={}, home=None).clock_start


def test_a_clock_reads_its_start_then_runs_at_real_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    system = [SYSTEM_NOW]
    monkeypatch.setattr(time, "time", lambda: system[0])
    start = datetime(2028, 2, 29, 23, 59, 30, tzinfo=UTC)
    clock = Clock.starting_at(start)
    assert clock.now() == start
    system[0] += 45
    assert clock.now() == datetime(2028, 3, 1, 0, 0, 15, tzinfo=UTC)
    assert clock.today().isoformat() == "2028-03-01"
    assert Clock.starting_at(None).time() == system[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-12-31T23:00:00Z", datetime(2027, 12, 31, 23, tzinfo=UTC)),
        ("2027-12-31T23:00:00", datetime(2027, 12, 31, 23, tzinfo=UTC)),  # no offset: UTC
        ("2028-01-01T01:00:00+02:00", datetime(2027, 12, 31, 23, tzinfo=UTC)),
        ("2028-02-29", datetime(2028, 2, 29, tzinfo=UTC)),  # a date: its midnight
    ],
)
def test_clock_start_is_an_iso_instant(text: str, expected: datetime) -> None:
    assert _clock_start(text) == expected


def test_a_bad_clock_start_names_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"--clock\.start.*not an ISO 8601 instant"):
        _clock_start("yesterday")


def test_the_environment_sets_it_too() -> None:
    settings = load_settings(
        environ={"CAPGO_EXPORTER_CLOCK_START": "2027-02-28T12:00:00Z"}, home=None
    )
    assert settings.clock_start == datetime(2027, 2, 28, 12, tzinfo=UTC)


def test_a_chosen_clock_is_refused_against_the_real_capgo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAPGO_API_KEY", "a-real-key")
    monkeypatch.delenv("CAPGO_API_URL", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["--clock.start", "2027-02-28T12:00:00Z", "--once"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--clock.start needs --demo or a Capgo on loopback" in err
    assert "a-real-key" not in err


def _gauge(text: str, name: str) -> list[float]:
    return [float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)]


@pytest.mark.parametrize(
    ("start", "cycle_start"),
    [
        ("2027-02-28T12:00:00Z", datetime(2027, 2, 1, tzinfo=UTC)),
        ("2028-02-29T23:00:00Z", datetime(2028, 2, 1, tzinfo=UTC)),
        ("2027-12-31T12:00:00Z", datetime(2027, 12, 1, tzinfo=UTC)),
    ],
)
def test_the_demo_shows_the_chosen_day_and_the_exporter_keeps_system_time(
    start: str,
    cycle_start: datetime,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "time", lambda: SYSTEM_NOW)  # the system clock, stopped
    argv = [
        "--demo",
        "--once",
        "--clock.start",
        start,
        "--collectors.enabled",
        "inventory,statistics",
    ]
    assert main(argv) == 0
    out = capsysbinary.readouterr().out.decode()
    # The collectors' calendar: the cycle the chosen day falls in, for the simulator's data.
    starts = _gauge(out, "capgo_org_billing_cycle_start_timestamp_seconds")
    assert starts
    assert set(starts) == {cycle_start.timestamp()}
    assert _gauge(out, "capgo_org_monthly_active_users")
    # The exporter's own timestamps: the system clock, which Prometheus compares them with,
    # not the chosen day's.
    successes = _gauge(out, "capgo_exporter_collector_last_success_timestamp_seconds")
    assert len(successes) == 2  # inventory, statistics
    assert set(successes) == {SYSTEM_NOW}
