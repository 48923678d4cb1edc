"""Run ``capgo-exporter admin …`` in-process, against respx or a simulator over TCP.

Every run checks that the API key appears nowhere in what the command printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from capgo_exporter.cli import main
from capgo_exporter.sim import SimConfig, Simulator

KEY = "6a0d3c1e-2b4f-4e8a-9c7d-5f1e2a3b4c5d"
APP = "com.acme.shop"  # the simulator's first app (seeded names)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


class Admin:
    """``admin(*argv)`` runs ``capgo-exporter admin *argv`` and returns what it printed."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *argv: str) -> Result:
        try:
            code = main(["admin", *argv])
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = self._capsys.readouterr()
        assert KEY not in captured.out + captured.err
        assert "Traceback" not in captured.err
        return Result(code, captured.out, captured.err)

    def ok(self, *argv: str) -> Result:
        result = self(*argv)
        assert result.code == 0, result.err
        return result


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key or setting from the machine running the tests (env, ~/.capgo)."""
    import os

    for name in list(os.environ):
        if name.startswith("CAPGO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def admin(capsys: pytest.CaptureFixture[str], clean_env: None) -> Admin:
    return Admin(capsys)


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Iterator[Simulator]:
    """One org, one app, 120 devices, served over TCP; the admin settings point at it.

    Device pages of 50, so a device list walks three pages.
    """
    simulator = Simulator(
        SimConfig(
            seed=3, orgs=1, apps_per_org=1, devices_per_app=120, keys={KEY: "org_super_admin"}
        )
    )
    with served(simulator, monkeypatch):
        monkeypatch.setenv("CAPGO_EXPORTER_COLLECTOR_DEVICES_PAGE_SIZE", "50")
        yield simulator


@contextmanager
def served(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """``simulator`` over TCP, the admin's settings pointing at it with KEY and no budget
    to wait for."""
    with simulator.serve_tcp() as url:
        monkeypatch.setenv("CAPGO_API_URL", url)
        monkeypatch.setenv("CAPGO_API_KEY", KEY)
        monkeypatch.setenv("CAPGO_EXPORTER_CAPGO_REQUESTS_PER_MINUTE", "100000")
        yield simulator
