"""A plan per organization (``org_plans``): limits and billing-cycle day by organization id or
name, the ``--plan.*`` flags for the rest; two organizations on different plans."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import structlog

from capgo_exporter.api import CapgoClient
from capgo_exporter.collect.statistics import (
    ORG_BANDWIDTH_LIMIT,
    ORG_CYCLE_START,
    ORG_MAU,
    ORG_MAU_LIMIT,
    ORG_STORAGE_LIMIT,
    StatisticsCollector,
    billing_cycle_start,
)
from capgo_exporter.logs import configure_logging
from capgo_exporter.settings import SettingsError, load_settings
from capgo_exporter.settings.plan_lookup import plan_for
from capgo_exporter.sim import Simulator
from tests.clock import pinned_now

from .conftest import discover, make_settings, run, values


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


async def test_two_organizations_on_different_plans(sim: Simulator, client: CapgoClient) -> None:
    first, second = sim.org_ids()
    first_name = sim.truth().org(first).name
    settings = make_settings(
        plan_mau_limit=5000,  # the flags: the default plan
        plan_storage_limit_bytes="2GiB",
        org_plans={
            first_name: {"mau_limit": 50_000, "billing_cycle_start_day": 15},  # by name
            second: {"bandwidth_limit": "1GiB"},  # by id
        },
    )
    discovery = await discover(client, settings)
    result = await run(StatisticsCollector(), client, settings, discovery)
    s = result.samples
    assert values(s, ORG_MAU_LIMIT) == {(first,): 50_000, (second,): 5000}
    assert values(s, ORG_STORAGE_LIMIT) == {(first,): 2 * 1024**3, (second,): 2 * 1024**3}
    assert values(s, ORG_BANDWIDTH_LIMIT) == {(second,): 1024**3}
    today = pinned_now().date()
    assert values(s, ORG_CYCLE_START) == {
        (first,): _midnight(billing_cycle_start(today, 15)),
        (second,): _midnight(billing_cycle_start(today, 1)),
    }
    # Each organization's MAU counted from its own cycle's start.
    assert values(s, ORG_MAU) == {
        (first,): sim.truth(cycle_start_day=15).org(first).mau,
        (second,): sim.truth(cycle_start_day=1).org(second).mau,
    }


def test_an_id_wins_over_a_name_and_the_flags_fill_the_rest() -> None:
    settings = make_settings(
        billing_cycle_start_day=3,
        plan_mau_limit=100,
        org_plans={"o1": {"mau_limit": 1}, "Acme": {"mau_limit": 2, "storage_limit": "1KiB"}},
    )
    by_id = plan_for(settings, "o1", "Acme")
    assert (by_id.mau_limit, by_id.storage_limit_bytes, by_id.billing_cycle_start_day) == (
        1,
        None,
        3,
    )
    assert plan_for(settings, "o2", "Acme").mau_limit == 2
    assert plan_for(settings, "o3", "Initech").mau_limit == 100


def test_the_flag_form_and_the_toml_tables_are_the_same(tmp_path: Path) -> None:
    config = tmp_path / "capgo.toml"
    config.write_text(
        '[org_plans."Acme Mobile"]\nmau_limit = 50000\nbilling_cycle_start_day = 15\n\n'
        '[org_plans.o2]\nstorage_limit = "10GiB"\n'
    )
    from_file = load_settings({"config_file": str(config)}, environ={}, home=None)
    from_env = load_settings(
        environ={
            "CAPGO_EXPORTER_PLAN_ORGS": "Acme Mobile: mau-limit=50000, "
            "billing-cycle-start-day=15; o2: storage-limit=10GiB"
        },
        home=None,
    )
    assert from_file.org_plans == from_env.org_plans
    assert from_env.org_plans["o2"].storage_limit == 10 * 1024**3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Acme", "use ORG: key=value"),
        ("Acme: mau-limit", "use key=value"),
        ("Acme: mau-limt=5", "CAPGO_EXPORTER_PLAN_ORGS: Acme.mau_limt: unknown key"),
        (
            "Acme: billing-cycle-start-day=32",
            "CAPGO_EXPORTER_PLAN_ORGS: Acme.billing_cycle_start_day: invalid value '32'",
        ),
    ],
)
def test_a_bad_plan_is_one_line_naming_it(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ={"CAPGO_EXPORTER_PLAN_ORGS": value}, home=None)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


async def test_a_plan_naming_no_organization_is_said_once(
    sim: Simulator, client: CapgoClient
) -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    try:
        settings = make_settings(org_plans={"Acme Mobil": {"mau_limit": 1}})
        discovery = await discover(client, settings)
        collector = StatisticsCollector()
        for _ in range(2):
            await run(collector, client, settings, discovery)
    finally:
        structlog.reset_defaults()
    warnings = [json.loads(line) for line in out.getvalue().splitlines() if "org_plans" in line]
    assert len(warnings) == 1
    assert warnings[0]["plan"] == "Acme Mobil"
