"""``--once --output FILE`` in node_exporter's textfile directory, scraped by the real
node_exporter, and the rules rendered for it (``--selector 'job="node"'``).

The README advertises this use; node_exporter fails a whole scrape when a textfile repeats one
of its own series (``process_*``), so only a real node_exporter can tell the output is valid.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
import yaml

from capgo_exporter.mixin.config import DEFAULT_RUNBOOK_URL_BASE
from capgo_exporter.mixin.rules import main as rules_main
from capgo_exporter.textfile import write_atomically
from tests.tools import require_binary

from .conftest import daemon_args, daemon_env, free_port, process, wait_until


def _once_into(directory: Path, *flags: str) -> Path:
    prom = directory / "capgo.prom"
    result = subprocess.run(
        daemon_args("--demo", "--once", "--output", str(prom), *flags),
        capture_output=True,
        env=daemon_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == b""  # all of it in the file
    return prom


def test_node_exporter_scrapes_once_output_without_error(tmp_path: Path) -> None:
    node_exporter = require_binary("prometheus-node-exporter")
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    # Twice, as the timer runs it: the second run reads the device index the first left.
    _once_into(textfiles, "--state.dir", str(state))
    prom = _once_into(textfiles, "--state.dir", str(state))
    # node_exporter runs as another user: readable by all; nothing else left in the directory.
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644
    assert [path.name for path in textfiles.iterdir()] == ["capgo.prom"]
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


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    prom = tmp_path / "capgo.prom"
    versions = [(f"# version {n}\n" + "capgo_up 1\n" * 20_000).encode() for n in range(20)]
    write_atomically(prom, versions[0])
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(prom.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    for version in versions[1:]:
        write_atomically(prom, version)
    done.set()
    reader.join()
    assert seen <= set(versions)  # whole versions only, never a cut one
    assert prom.read_bytes() == versions[-1]


def test_a_failed_write_keeps_the_previous_file_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prom = tmp_path / "capgo.prom"
    write_atomically(prom, b"capgo_up 1\n")

    def refuse(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(prom, b"capgo_up 0\n")
    assert prom.read_bytes() == b"capgo_up 1\n"
    assert [path.name for path in tmp_path.iterdir()] == ["capgo.prom"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--output", "x.prom"], "goes with --once"),
        (["--once", "--output", "capgo.txt"], "reads only *.prom files"),
        (["--once", "--output", "/nowhere/capgo.prom"], "no directory"),
    ],
)
def test_output_mistakes_are_one_line_and_exit_2(flags: list[str], message: str) -> None:
    result = subprocess.run(
        daemon_args("--demo", *flags), capture_output=True, text=True, env=daemon_env(), timeout=60
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_rules_rendered_for_node_fire_on_textfile_series(tmp_path: Path) -> None:
    """The shipped rules select job="capgo"; textfile figures come as job="node". Rendered with
    --selector 'job="node"', an alert fires on them (and the shipped rules stay silent)."""
    promtool = require_binary("promtool")
    rendered = tmp_path / "node"
    rules_main(["--selector", 'job="node"', "--out", str(rendered)])
    shipped = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "capgo.rules.yml"
    series = (
        'capgo_apikey_expiry_timestamp_seconds{job="node",instance="host",'
        'apikey_id="7",apikey_name="ci"}'
    )
    for rules, fired in ((rendered / "prometheus" / "capgo.rules.yml", True), (shipped, False)):
        expected = [
            {
                "exp_labels": {"severity": "warning", "apikey_id": "7", "apikey_name": "ci"},
                "exp_annotations": {
                    "summary": "A Capgo API key has expired.",
                    "description": "Capgo API key ci (id 7) expired 10m 0s ago and is still "
                    "listed: whatever uses it is refused. Delete it, or give it a new expiry.",
                    "runbook_url": f"{DEFAULT_RUNBOOK_URL_BASE}#capgoapikeyexpired",
                },
            }
        ]
        test = {
            "rule_files": [str(rules)],
            "evaluation_interval": "1m",
            "tests": [
                {
                    "interval": "1m",
                    "input_series": [{"series": series, "values": "0x10"}],
                    "alert_rule_test": [
                        {
                            "eval_time": "10m",
                            "alertname": "CapgoApiKeyExpired",
                            "exp_alerts": expected if fired else [],
                        }
                    ],
                }
            ],
        }
        path = tmp_path / f"test-{fired}.yml"
        path.write_text(yaml.safe_dump(test))
        result = subprocess.run(
            [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
