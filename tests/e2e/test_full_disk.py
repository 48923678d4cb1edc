"""A full disk under ``--state.dir``: the daemon logs it once, goes on serving, and stops on
SIGTERM with exit status 0 and no traceback (a hostile-world trial saw an uncaught sqlite3
error there).

The disk is made full for the daemon alone: a file-size limit (RLIMIT_FSIZE) below what the
demo's device index needs, with SIGXFSZ ignored so that a write past it fails (EFBIG, which
SQLite reports like a full disk) instead of killing the process.
"""

from __future__ import annotations

import resource
import signal
import subprocess
from pathlib import Path

import httpx

from tests.e2e.conftest import daemon_env, demo_daemon, wait_until

FILE_SIZE_LIMIT = 64 * 1024  # the demo's index needs megabytes


def _disk_full() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # ignored signals stay ignored across exec
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def test_a_full_disk_is_one_log_line_and_a_clean_exit(tmp_path: Path) -> None:
    args, url, state = demo_daemon(tmp_path)
    log = tmp_path / "log"
    # The size limit holds for every file the daemon writes, a log file too: its output goes
    # through a pipe to a process without the limit, so that no line is lost to it.
    with log.open("wb") as out:
        writer = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=out)
        assert writer.stdin is not None
        daemon = subprocess.Popen(
            args,
            stdout=writer.stdin,
            stderr=subprocess.STDOUT,
            env=daemon_env(),
            preexec_fn=_disk_full,
        )
        writer.stdin.close()  # the daemon holds the only writing end now
        try:

            def devices_down() -> str | None:
                # Down because a write failed: collector_up also says 0 before the devices
                # collector's first run ends, while inventory is already up.
                if "device index cannot be written" not in log.read_text():
                    return None
                body = httpx.get(f"{url}/metrics", timeout=2).text
                return (
                    body
                    if 'capgo_exporter_collector_up{collector="devices"} 0.0' in body
                    and ('capgo_exporter_collector_up{collector="inventory"} 1.0' in body)
                    else None
                )

            body = wait_until(devices_down, 60, "the devices collector down, the rest serving")
            assert "capgo_org_info" in body  # the other collectors' figures are served
            assert httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            daemon.send_signal(signal.SIGTERM)
            status = daemon.wait(timeout=30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
            writer.wait(timeout=30)  # the daemon gone, cat has read all it wrote
    text = log.read_text()
    assert status == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    failures = [line for line in text.splitlines() if "device index cannot be written" in line]
    assert len(failures) == 1, failures
    assert str(state / "devices.sqlite3") in failures[0]
    assert "free_bytes" in failures[0]
    assert "capgo-exporter stopped" in text
