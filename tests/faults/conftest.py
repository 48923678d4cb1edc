"""Shared by the fault scenarios."""

from __future__ import annotations

import pytest

from capgo_exporter.api import circuit
from tests.faults.harness import INTERVAL


@pytest.fixture
def probe_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """The circuit's floor on its probe wait (6 s: at most 10 probes a minute against the real
    Capgo, measured by benchmarks/bench_outage.py) lowered to the scenarios' 1 s interval, so
    that the wait is the probe interval the daemon gives it (a little under the interval) and a
    scenario waits seconds, not the floor, for the probe that sees Capgo back."""
    monkeypatch.setattr(circuit, "MIN_PROBE_INTERVAL", INTERVAL)
