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
from typing import Any, TypeVar

import httpx

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


def daemon_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPGO_", "PROMETHEUS_"))}
    env.update({"CAPGO_EXPORTER_LOG_FORMAT": "json", "HOME": str(Path(env.get("TMPDIR", "/tmp")))})
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
