"""``--once`` output in node_exporter's textfile directory, scraped by the real node_exporter.

The README advertises this use; node_exporter fails a whole scrape when a textfile repeats one
of its own series (``process_*``), so only a real node_exporter can tell the output is valid.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.tools import require_binary

from .conftest import daemon_args, daemon_env, free_port, process, wait_until


def _once_into(directory: Path) -> Path:
    result = subprocess.run(
        daemon_args("--demo", "--once"), capture_output=True, env=daemon_env(), timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    prom = directory / "capgo.prom"
    prom.write_bytes(result.stdout)
    return prom


def test_node_exporter_scrapes_once_output_without_error(tmp_path: Path) -> None:
    node_exporter = require_binary("prometheus-node-exporter")
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    _once_into(textfiles)
    port = free_port()
    args = [
        node_exporter,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--collector.textfile.directory={textfiles}",
        # Only what the test needs: the textfile collector, plus node_exporter's own process_*
        # and go_* series, which are what a colliding textfile would repeat.
        "--collector.disable-defaults",
        "--collector.textfile",
    ]
    with process(args, tmp_path / "node_exporter.log"):
        url = f"http://127.0.0.1:{port}/metrics"
        response = wait_until(lambda: httpx.get(url, timeout=5), 20, "node_exporter")
    log = (tmp_path / "node_exporter.log").read_text()
    # A collision makes node_exporter answer 500 and log "was collected before".
    assert response.status_code == 200, response.text[-2000:]
    assert "was collected before" not in log, log[-2000:]
    body = response.text
    assert "node_textfile_scrape_error 0" in body
    assert "\ncapgo_up 1" in body
    assert "\ncapgo_org_monthly_active_users{" in body
    assert "\nprocess_cpu_seconds_total " in body  # node_exporter's own, once


def test_once_output_has_no_process_series(tmp_path: Path) -> None:
    # Fast and binary-free, so a regression shows on every machine, not only in CI.
    text = _once_into(tmp_path).read_text()
    assert "capgo_up 1" in text
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert "capgo_up" in names
    assert not {name for name in names if name.startswith("process_")}
