"""What the health gauges say when one app's events cannot be read: the events collector's
``capgo_exporter_collector_up`` is 0, ``capgo_up`` and the other collectors stay 1, the other
apps' events are served, and a run that reads every app again brings the gauge back to 1.

The scheduler runs the real inventory, statistics and events collectors on the simulator; a
transport in front of it breaks the insights route for one app in each of the ways the route
may break (404, ``app_access_denied``, a changed shape)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import structlog.testing
from pydantic import SecretStr

from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.api.insights import ROUTE
from capgo_exporter.collect.base import Collector
from capgo_exporter.collect.events import EventsCollector
from capgo_exporter.collect.gate import PermissionGate
from capgo_exporter.collect.inventory import InventoryCollector
from capgo_exporter.collect.statistics import StatisticsCollector
from capgo_exporter.scheduler import Scheduler
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import SimConfig, Simulator
from capgo_exporter.snapshot import SnapshotHolder
from tests.clock import PINNED_NOW, pinned_now
from tests.collect.conftest import KEY

# (status, body) for the broken app, from the simulator's own answer for it.
Breakage = Callable[[dict[str, Any]], tuple[int, Any]]


def _gone(_: dict[str, Any]) -> tuple[int, Any]:
    return 404, {"error": "not_found", "message": "Not Found"}


def _denied(_: dict[str, Any]) -> tuple[int, Any]:
    return 400, {"error": "app_access_denied", "message": "You can't access this app"}


def _without(field: str) -> Breakage:
    def change(answer: dict[str, Any]) -> tuple[int, Any]:
        del answer[field]
        return 200, answer

    return change


def _mistyped_total(answer: dict[str, Any]) -> tuple[int, Any]:
    answer["summary"]["total"] = "12"  # a string where a number was
    return 200, answer


def _other_window(answer: dict[str, Any]) -> tuple[int, Any]:
    answer["period"]["requested_days"] = 30  # asked for 7
    return 200, answer


def _no_events(answer: dict[str, Any]) -> tuple[int, Any]:
    """A fleet that sends no statistics: a well-formed, empty answer."""
    answer["summary"] = {"total": 0, "device_count": 0, "action_count": 0}
    answer.update(actions=[], daily=[], versions=[], devices=[])
    return 200, answer


BREAKAGES: dict[str, tuple[Breakage, str]] = {
    # name: (breakage, what the warning tells the user to do)
    "gone": (_gone, "no longer serves this private route"),
    "denied": (_denied, "app.read_logs"),
    "shape-missing-field": (_without("versions"), "changed this private route's answer"),
    "shape-mistyped": (_mistyped_total, "changed this private route's answer"),
    "shape-other-window": (_other_window, "changed this private route's answer"),
}


class Breaking(httpx.AsyncBaseTransport):
    """The simulator, with the insights route of one app broken while ``broken`` is set."""

    def __init__(self, sim: Simulator, app_id: str, breakage: Breakage) -> None:
        self._inner = sim.sync_transport()
        self._app_id = app_id
        self._breakage = breakage
        self.broken = True
        self.insights_calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        answer = self._inner.handle_request(request)
        answer.read()
        if request.url.path != ROUTE:
            return httpx.Response(answer.status_code, content=answer.content)
        app_id = json.loads(request.content)["appId"]
        self.insights_calls.append(app_id)
        if app_id != self._app_id or not self.broken:
            return httpx.Response(answer.status_code, content=answer.content)
        status, body = self._breakage(json.loads(answer.content))
        return httpx.Response(status, json=body)


class Stack:
    def __init__(self, breakage: Breakage) -> None:
        config = SimConfig(
            seed=7, orgs=1, apps_per_org=3, devices_per_app=400, keys={KEY: "org_super_admin"}
        )
        sim = Simulator(config, clock=pinned_now)
        self.apps = sim.app_ids()
        self.broken_app = self.apps[1]
        self.transport = Breaking(sim, self.broken_app, breakage)
        self.gate_clock = 0.0
        self.events = EventsCollector(gate=PermissionGate(clock=lambda: self.gate_clock))
        self.inventory = InventoryCollector()
        self.statistics = StatisticsCollector()
        collectors: list[Collector] = [self.inventory, self.statistics, self.events]
        settings = load_settings(
            {"collectors": "inventory,statistics,events"}, environ={}, home=None
        )
        self.metrics = SelfMetrics([c.name for c in collectors], process_metrics=False)
        self.holder = SnapshotHolder()
        options = ClientOptions(
            api_key=SecretStr(KEY),
            base_url="http://sim",
            requests_per_minute=100_000,
            max_retries=0,
        )
        client = CapgoClient.create(options, transport=self.transport)
        self.scheduler = Scheduler(
            client, settings, collectors, self.holder, self.metrics,
            wall_clock=PINNED_NOW.timestamp, rng=random.Random(0),
        )  # fmt: skip

    def up(self, collector: str | None = None) -> float | None:
        if collector is None:
            return self.metrics.registry.get_sample_value("capgo_up")
        return self.metrics.registry.get_sample_value(
            "capgo_exporter_collector_up", {"collector": collector}
        )

    def lines(self, metric: str) -> list[str]:
        text = self.holder.current.text.decode()
        return [line for line in text.splitlines() if line.startswith(metric + "{")]

    def apps_with_events(self) -> set[str]:
        lines = self.lines("capgo_app_events")
        return {app for app in self.apps if any(f'app_id="{app}"' in line for line in lines)}

    def status(self, name: str) -> Any:
        return {s.name: s for s in self.scheduler.collector_statuses()}[name]


@pytest.mark.parametrize("case", BREAKAGES, ids=list(BREAKAGES))
async def test_a_skipped_app_sets_events_down_and_nothing_else(case: str) -> None:
    breakage, hint = BREAKAGES[case]
    stack = Stack(breakage)
    with structlog.testing.capture_logs() as logs:
        assert await stack.scheduler.run_once()  # the run itself succeeds
    assert stack.up("events") == 0
    assert stack.up() == 1
    assert stack.up("inventory") == stack.up("statistics") == 1
    assert stack.apps_with_events() == set(stack.apps) - {stack.broken_app}
    status = stack.status("events")
    assert status.skipped == (f"events:{stack.broken_app}",)
    assert stack.broken_app in status.last_error
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(warnings) == 1  # one line, saying which app, what happened and what to do
    assert warnings[0]["app_id"] == stack.broken_app
    assert hint in warnings[0]["hint"]


async def test_a_skipped_app_stays_down_for_the_hour_then_recovers() -> None:
    stack = Stack(_denied)
    await stack.scheduler.run_once()
    stack.transport.insights_calls.clear()
    with structlog.testing.capture_logs() as logs:
        await stack.scheduler.run_collector(stack.events)
    # Within the hour the app is not asked again, and the gauge keeps saying it is missing.
    assert stack.broken_app not in stack.transport.insights_calls
    assert not [entry for entry in logs if entry["log_level"] == "warning"]
    assert (stack.up("events"), stack.up()) == (0, 1)
    stack.transport.broken = False  # the key was given app.read_logs
    stack.gate_clock += 3600
    await stack.scheduler.run_collector(stack.events)
    assert (stack.up("events"), stack.up()) == (1, 1)
    assert stack.apps_with_events() == set(stack.apps)
    assert stack.status("events").skipped == ()
    assert stack.status("events").last_error is None


async def test_an_app_without_events_publishes_zeros_and_stays_up() -> None:
    stack = Stack(_no_events)
    assert await stack.scheduler.run_once()
    assert (stack.up("events"), stack.up()) == (1, 1)
    mine = [line for line in stack.lines("capgo_app_events") if stack.broken_app in line]
    actions = {line.split('action="')[1].split('"')[0]: line.split()[-1] for line in mine}
    assert {"set", "app_crash", "update_fail"} <= set(actions)
    assert set(actions.values()) == {"0.0"}
    assert not [line for line in stack.lines("capgo_bundle_events") if stack.broken_app in line]


async def test_a_server_error_still_fails_the_run_like_any_collector() -> None:
    stack = Stack(lambda _: (503, {"error": "unknown_error", "message": "down"}))
    assert not await stack.scheduler.run_once()
    assert (stack.up("events"), stack.up()) == (0, 0)
    assert stack.up("inventory") == stack.up("statistics") == 1
    assert stack.status("events").skipped == ()
