"""Processes for end-to-end tests: the simulator over TCP, the daemon, a real Prometheus.

Tests that need ``prometheus`` or ``promtool`` fail in CI (``CI=true``) when the binary is
missing — CI installs Debian's ``prometheus`` package — and skip loudly on a developer machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx

from capgo_exporter.clock import Clock
from tests.clock import clock_env, pinned_clock
from tests.tools import require_binary

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, OSError) as error:
            last_error = error
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error})"
    )


@contextmanager
def process(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def daemon_args(*flags: str) -> list[str]:
    return [sys.executable, "-m", "capgo_exporter", *flags]


class DemoDaemon(NamedTuple):
    args: list[str]  # its command line
    url: str  # where it serves, without a trailing slash
    state: Path  # its state directory


def demo_daemon(tmp_path: Path) -> DemoDaemon:
    """A --demo daemon's command line, on a free loopback port with its own state directory
    under ``tmp_path``."""
    port = free_port()
    state = tmp_path / "state"
    state.mkdir()
    listen = f"127.0.0.1:{port}"
    args = daemon_args("--demo", "--web.listen-address", listen, "--state.dir", str(state))
    return DemoDaemon(args, f"http://{listen}", state)


def daemon_env(clock: Clock | None = None, **extra: str) -> dict[str, str]:
    """The environment of a daemon process: on ``clock`` (the pinned one unless a test gives
    its simulator's), none of the caller's CAPGO_* variables, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPGO_", "PROMETHEUS_"))}
    env.update({"CAPGO_EXPORTER_LOG_FORMAT": "json", "HOME": str(Path(env.get("TMPDIR", "/tmp")))})
    env.update(clock_env(clock or pinned_clock()))
    env.update(extra)
    return env


class PrometheusQuery:
    def __init__(self, url: str) -> None:
        self.url = url

    def vector(self, query: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Instant query → {sorted labels (without __name__, job, instance): value}."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        assert body["status"] == "success", body
        out: dict[tuple[tuple[str, str], ...], float] = {}
        for item in body["data"]["result"]:
            labels = tuple(
                sorted(
                    (k, v)
                    for k, v in item["metric"].items()
                    if k not in {"__name__", "job", "instance"}
                )
            )
            out[labels] = float(item["value"][1])
        return out

    def scalar(self, query: str) -> float | None:
        result = self.vector(query)
        return next(iter(result.values())) if len(result) == 1 else None


def scrape_every_second(rules: Path | None = None) -> Callable[[Path, str], Path]:
    """A ``prometheus_config`` for `exporter_and_prometheus`: one job scraping the exporter
    every second and, with ``rules``, evaluating them every second too."""

    def write(tmp: Path, exporter: str) -> Path:
        evaluation = "  evaluation_interval: 1s\n" if rules else ""
        rule_files = f"rule_files:\n  - {rules}\n" if rules else ""
        config = tmp / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n{evaluation}{rule_files}"
            "scrape_configs:\n  - job_name: capgo\n"
            f"    static_configs:\n      - targets: ['{exporter}']\n"
        )
        return config

    return write


@contextmanager
def exporter_and_prometheus(
    tmp: Path, env: dict[str, str], prometheus_config: Callable[[Path, str], Path]
) -> Iterator[tuple[str, PrometheusQuery]]:
    """The daemon (``env`` points it at a simulator), then a real Prometheus scraping it.

    ``prometheus_config(tmp, exporter_address)`` writes the Prometheus config and returns its
    path. Yields once the exporter is ready and Prometheus has scraped ``capgo_up 1``.
    """
    prometheus = require_binary("prometheus")
    exporter, prometheus_port = f"127.0.0.1:{free_port()}", free_port()
    args = daemon_args("--web.listen-address", exporter)
    with process(args, tmp / "exporter.log", env) as daemon:
        wait_until(
            lambda: (
                daemon.poll() is None
                and httpx.get(f"http://{exporter}/readyz", timeout=2).status_code == 200
            ),
            60,
            f"the exporter to be ready (log: {tmp / 'exporter.log'})",
        )
        config = prometheus_config(tmp, exporter)
        prometheus_args = [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ]
        with process(prometheus_args, tmp / "prometheus.log"):
            query = PrometheusQuery(f"http://127.0.0.1:{prometheus_port}")
            wait_until(
                lambda: query.scalar('up{job="capgo"}') == 1 and query.scalar("capgo_up") == 1,
                60,
                f"Prometheus to scrape capgo_up 1 (logs in {tmp})",
            )
            yield exporter, query
