"""deploy/systemd/: the unit's sandbox and key handling, checked by parsing it and by
``systemd-analyze verify`` and ``systemd-analyze security`` (offline, no running systemd)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support import (
    KEY_ENV_NAMES,
    PORT,
    SYSTEMD_DIR,
    check_exporter_env,
    parse_env_file,
    parse_unit,
    port_of,
)
from tests.e2e.conftest import daemon_env
from tests.tools import require_binary

UNIT = SYSTEMD_DIR / "capgo-exporter.service"
ENV_EXAMPLE = SYSTEMD_DIR / "capgo-exporter.env.example"
SYSTEMD = "apt-get install -y systemd"

# Sandboxing the unit promises; systemd-analyze security scores the whole set below.
SANDBOX = {
    "DynamicUser": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
}


@pytest.fixture(scope="module")
def service() -> list[tuple[str, str]]:
    return parse_unit(UNIT)["Service"]


def values(service: list[tuple[str, str]], key: str) -> list[str]:
    return [value for name, value in service if name == key]


def single(service: list[tuple[str, str]], key: str) -> str:
    (value,) = values(service, key)
    return value


def environment(service: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for assignment in values(service, "Environment"):
        name, _, value = assignment.partition("=")
        env[name] = value
    return env


def test_sandboxing_options_are_set(service: list[tuple[str, str]]) -> None:
    wrong = {
        key: values(service, key)
        for key, expected in SANDBOX.items()
        if values(service, key) != [expected]
    }
    expected = {key: SANDBOX[key] for key in wrong}
    assert not wrong, f"expected {expected}, found {wrong}"
    filters = values(service, "SystemCallFilter")
    assert "@system-service" in filters
    # Deny lists come after the allow list, or they would be the only filter.
    assert all(f.startswith("~") for f in filters[filters.index("@system-service") + 1 :])


def test_key_comes_from_a_credential_never_the_environment(
    service: list[tuple[str, str]],
) -> None:
    credential, _, source = single(service, "LoadCredential").partition(":")
    assert source.startswith("/etc/"), "a root-only file the service cannot read directly"
    env = environment(service)
    assert env["CAPGO_API_KEY_FILE"] == f"%d/{credential}"
    assert not KEY_ENV_NAMES & set(env)
    assert not KEY_ENV_NAMES & set(parse_env_file(ENV_EXAMPLE, commented=True))


def test_state_lives_in_the_state_directory(service: list[tuple[str, str]]) -> None:
    state = single(service, "StateDirectory")
    assert state == "capgo-exporter"
    # %S is /var/lib: the directory systemd creates and hands to the dynamic user.
    assert environment(service)["CAPGO_EXPORTER_STATE_DIR"] == f"%S/{state}"


def test_restarts_on_failure_but_not_on_a_bad_setting(service: list[tuple[str, str]]) -> None:
    assert single(service, "Restart") == "on-failure"
    prevented = {int(status) for status in single(service, "RestartPreventExitStatus").split()}
    # The exit status of a bad setting, taken from the exporter itself.
    result = subprocess.run(
        [sys.executable, "-m", "capgo_exporter", "--web.listen-address=nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in prevented, result.stderr
    # ... and the exit status of a listen address in use, which must restart: another process
    # may hold the port for a moment (an old instance still stopping).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "capgo_exporter", "--demo"],
            capture_output=True,
            text=True,
            timeout=60,
            env=daemon_env(CAPGO_EXPORTER_WEB_LISTEN_ADDRESS=f"127.0.0.1:{port}"),
        )
    assert result.returncode not in prevented | {0}, result.stderr
    assert "cannot listen" in result.stderr
    assert single(service, "KillSignal") == "SIGTERM"
    assert re.fullmatch(r"\d+s", single(service, "TimeoutStopSec"))


def test_environment_and_env_file_example_are_accepted(
    service: list[tuple[str, str]], tmp_path: Path
) -> None:
    env = environment(service)
    env_file = single(service, "EnvironmentFile")
    assert env_file.startswith("-"), "the file is optional"
    env |= parse_env_file(ENV_EXAMPLE, commented=True)
    settings = check_exporter_env(env, tmp_path, paths={"%S": "/var/lib", "%d": "/run/creds"})
    assert settings.listen_port == PORT
    assert port_of(parse_env_file(ENV_EXAMPLE)["CAPGO_EXPORTER_WEB_LISTEN_ADDRESS"]) == PORT


def runnable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this machine's exporter: verify checks it exists."""
    text = UNIT.read_text(encoding="utf-8")
    executable = Path(sys.executable).with_name("capgo-exporter")
    assert executable.exists(), f"{executable}: install the package (pip install -e .)"
    text, count = re.subn(r"(?m)^ExecStart=\S+", f"ExecStart={executable}", text)
    assert count == 1
    copy = tmp_path / UNIT.name
    copy.write_text(text, encoding="utf-8")
    return copy


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze", SYSTEMD)
    result = subprocess.run(
        [analyze, "verify", str(runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on an unknown or misspelt key and only warns: any output is a failure.
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not output.strip(), output


def test_systemd_analyze_security_rates_the_sandbox_ok(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze", SYSTEMD)
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout[-1000:]
    # 0 is a perfect sandbox, 10 none; below 2 systemd calls it "OK", the best rating. Here
    # only the network access the exporter needs remains.
    assert float(match.group(1)) < 2.0, result.stdout


TEXTFILE_UNIT = SYSTEMD_DIR / "capgo-exporter-textfile.service"
TEXTFILE_TIMER = SYSTEMD_DIR / "capgo-exporter-textfile.timer"


def test_the_textfile_units_verify(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze", SYSTEMD)
    executable = Path(sys.executable).with_name("capgo-exporter")
    text = TEXTFILE_UNIT.read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^ExecStart=\S+", f"ExecStart={executable}", text)
    assert count == 1
    (tmp_path / TEXTFILE_UNIT.name).write_text(text, encoding="utf-8")
    (tmp_path / TEXTFILE_TIMER.name).write_text(TEXTFILE_TIMER.read_text(encoding="utf-8"))
    result = subprocess.run(
        [
            analyze,
            "verify",
            str(tmp_path / TEXTFILE_UNIT.name),
            str(tmp_path / TEXTFILE_TIMER.name),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not output.strip(), output


def test_the_textfile_service_writes_a_prom_file_once_with_its_own_state() -> None:
    service = parse_unit(TEXTFILE_UNIT)["Service"]
    assert single(service, "Type") == "oneshot"
    args = single(service, "ExecStart").split()
    assert args[1:3] == ["--once", "--output"]
    output = Path(args[3])
    assert output.suffix == ".prom"
    # Writable there and nowhere else but its state directory.
    assert single(service, "ReadWritePaths") == str(output.parent)
    assert single(service, "ProtectSystem") == "strict"
    assert single(service, "CapabilityBoundingSet") == ""
    state = single(service, "StateDirectory")
    assert state != single(parse_unit(UNIT)["Service"], "StateDirectory")  # not the daemon's
    assert environment(service)["CAPGO_EXPORTER_STATE_DIR"] == f"%S/{state}"
    timer = parse_unit(TEXTFILE_TIMER)["Timer"]
    assert single(timer, "OnUnitInactiveSec") == "5min"
