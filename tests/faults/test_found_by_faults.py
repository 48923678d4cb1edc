"""Defects the fault suite found, each pinned down by a test that does not need the suite.

- A collector whose series had been dropped for age came back up
  (``capgo_exporter_collector_up 1``) while the snapshot with its new series was still being
  rendered, so a scrape in between saw it up without its series. Up now follows the swap.
- A truncated or non-JSON answer from the events route was taken for "Capgo changed this
  route": the app's events were skipped for an hour while the collector said up. Such a body
  now fails the run, like a 5xx, and the next poll tries again.
"""

from __future__ import annotations

from typing import Any

import pytest

from capgo_exporter import scheduler as scheduler_module
from capgo_exporter.api import CapgoResponseError
from capgo_exporter.collect.events import APP_EVENTS, EventsCollector
from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.snapshot import Snapshot
from tests.clock import pinned_now
from tests.collect.conftest import KEY, discover, make_settings, run, sim_client, values
from tests.test_scheduler import Clock, make, mau_series, one_outage, value


async def test_a_collector_is_up_only_once_its_series_are_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inventory, statistics = one_outage()
    clock = Clock()
    scheduler, holder, metrics = make(inventory, statistics, clock=clock, max_age="10m")
    await scheduler.run_once()
    clock.now += 11 * 60
    await scheduler.run_collector(statistics)  # fails; its data are past their max age
    assert not mau_series(holder)

    # What a scrape would see while the next snapshot renders (off the event loop).
    seen_while_rendering: list[float | None] = []

    class Watched(Snapshot):
        @classmethod
        def render(cls, parts: Any) -> Snapshot:
            seen_while_rendering.append(
                value(metrics, "capgo_exporter_collector_up", collector="statistics")
            )
            return Snapshot.render(parts)

    monkeypatch.setattr(scheduler_module, "Snapshot", Watched)
    assert await scheduler.run_collector(statistics)
    assert seen_while_rendering == [0]  # still down while the old snapshot is served
    assert mau_series(holder)
    assert value(metrics, "capgo_exporter_collector_up", collector="statistics") == 1


@pytest.mark.parametrize("kind", ["truncated", "not_json"])
async def test_an_unreadable_events_answer_fails_the_run_and_skips_nothing(kind: str) -> None:
    sim = Simulator(SimConfig(seed=7, keys={KEY: "org_super_admin"}), clock=pinned_now)
    settings = make_settings()
    collector = EventsCollector()
    # Every app's answer is unreadable at once: the client's circuit would open (six failures
    # in a row) and hide what this checks, the events collector's handling of one such answer.
    async with sim_client(sim, circuit_failures_to_open=1_000) as client:
        discovery = await discover(client, settings)
        sim.configure(malformed_rate=1.0, malformed_kind=kind)
        with pytest.raises(CapgoResponseError, match="not JSON"):
            await run(collector, client, settings, discovery)
        sim.configure(malformed_rate=0.0)
        result = await run(collector, client, settings, discovery)
    published = {labels[0] for labels in values(result.samples, APP_EVENTS)}
    assert published == {app.app_id for app in discovery.apps}
