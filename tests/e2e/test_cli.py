"""The command line as a user runs it: --demo, --once, check, signals, and user mistakes."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from capgo_exporter.catalogue import CATALOGUE

from .conftest import daemon_args, daemon_env, demo_daemon, free_port, process, wait_until

CATALOGUE_NAMES = {spec.name for spec in CATALOGUE}


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        daemon_args(*args), capture_output=True, text=True, env=env or daemon_env(), timeout=timeout
    )


def names_in(exposition: str) -> set[str]:
    return {line.split()[2] for line in exposition.splitlines() if line.startswith("# HELP ")}


def test_without_a_key_says_how_to_give_one(tmp_path: Path) -> None:
    result = run_cli(env=daemon_env(HOME=str(tmp_path)))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CAPGO_API_KEY" in lines[0]
    assert "--demo" in lines[0]


def test_a_bad_setting_is_one_line_and_exit_2() -> None:
    result = run_cli("--demo", "--collector.devices.interval", "soon")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "--collector.devices.interval" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_key_never_appears_in_output(tmp_path: Path) -> None:
    secret = "5e1f0c2b-9a77-4d1e-8f3c-2b6d8f3c1e99"
    env = daemon_env(CAPGO_API_KEY=secret, CAPGO_API_URL="http://127.0.0.1:9", HOME=str(tmp_path))
    result = run_cli("--once", "--capgo.max-retries", "0", env=env)
    assert result.returncode == 1  # nothing listens on port 9: every collector fails
    assert secret not in result.stdout + result.stderr
    assert "cannot reach Capgo" in result.stderr


def test_once_with_demo_prints_every_metric_of_the_catalogue() -> None:
    result = run_cli("--demo", "--once")
    assert result.returncode == 0, result.stderr[-2000:]
    missing = CATALOGUE_NAMES - names_in(result.stdout)
    assert not missing, f"not in the exposition: {sorted(missing)}"


def test_check_with_demo_lists_every_endpoint() -> None:
    result = run_cli("check", "--demo")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for endpoint in ("/organization", "/app", "/channel", "/bundle", "/device", "/apikey"):
        assert any(line.startswith("ok") and f"GET {endpoint} " in line for line in lines), lines
    assert "Every collector can run with this key." in result.stdout


@pytest.mark.serial  # asserts how long something takes
def test_demo_daemon_serves_the_catalogue_and_stops_cleanly(tmp_path: Path) -> None:
    args, url, state = demo_daemon(tmp_path)
    started = time.monotonic()
    with process(args, tmp_path / "log") as daemon:

        def complete_exposition() -> str | None:
            text = httpx.get(f"{url}/metrics", timeout=2).text
            return text if names_in(text) >= CATALOGUE_NAMES else None

        body = wait_until(complete_exposition, 30, "every metric of the catalogue")
        elapsed = time.monotonic() - started
        assert httpx.get(f"{url}/healthz").status_code == 200
        # Each app's device metrics are served as its walk completes: ready follows when the
        # whole devices run has ended, a moment later.
        wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, 30, "ready")
        body = httpx.get(f"{url}/metrics").text
        assert names_in(body) >= CATALOGUE_NAMES
        landing = httpx.get(f"{url}/").text
        assert "devices" in landing
        assert "/metrics" in landing
        assert "capgo_up 1.0" in body
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
    log = (tmp_path / "log").read_text()
    assert "capgo-exporter stopped" in log, log[-2000:]
    with sqlite3.connect(state / "devices.sqlite3") as db:
        tables = [row[0] for row in db.execute("select name from sqlite_master where type='table'")]
        assert tables
    print(f"every catalogue metric served {elapsed:.1f}s after start")


def test_port_in_use_is_one_line_and_exit_3_not_the_configuration_status() -> None:
    # 3, not 2: systemd's RestartPreventExitStatus=2 must not stop the service for good over
    # a port another process holds for a moment.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--demo", "--web.listen-address", f"127.0.0.1:{port}", timeout=30)
    assert result.returncode == 3, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"capgo-exporter: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in result.stderr


def test_sighup_stops_the_daemon_like_sigterm(tmp_path: Path) -> None:
    args, url, _ = demo_daemon(tmp_path)
    with process(args, tmp_path / "log") as daemon:
        wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, 30, "up")
        daemon.send_signal(signal.SIGHUP)
        assert daemon.wait(timeout=20) == 0
    log = (tmp_path / "log").read_text()
    assert "stopping: finishing in-flight scrapes" in log
    assert "capgo-exporter stopped" in log, log[-2000:]


def test_the_start_up_log_shows_the_address_bound(tmp_path: Path) -> None:
    port = free_port()
    args = daemon_args("--demo", "--web.listen-address", f"127.0.0.1:{port}")
    with process(args, tmp_path / "log", env=daemon_env()) as daemon:
        wait_until(lambda: "capgo-exporter started" in (tmp_path / "log").read_text(), 30, "log")
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=20)
    started = next(
        json.loads(line)
        for line in (tmp_path / "log").read_text().splitlines()
        if "capgo-exporter started" in line
    )
    assert started["listen"] == f"127.0.0.1:{port}"
    assert started["url"] == f"http://127.0.0.1:{port}/"


def test_a_closed_pipe_is_not_a_traceback() -> None:
    # `capgo-exporter admin … | head -1`: the reader leaves after the first line.
    reader = subprocess.Popen(
        ["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    writer = subprocess.run(
        daemon_args("admin", "--demo", "device", "list", "com.acme.shop", "-o", "json"),
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        env=daemon_env(),
        timeout=60,
    )
    assert reader.stdin is not None
    reader.stdin.close()
    reader.wait(timeout=10)
    assert writer.returncode == 141
    assert "Traceback" not in writer.stderr
    assert writer.stderr == ""
