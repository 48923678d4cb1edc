"""The demo's release story holds on every day of a year, judged by the shipped rules.

The simulator's event log is a hash of (app, day, bundle, action), so which healthy bundle has
an unlucky week depends on the day: on 5 December 2026 the demo's healthy ``com.acme.wallet``
``1.1.3`` showed 5 failure events in 67 attempts (7.5 %), and a rule on the raw ratio paged
for it. This walks 366 consecutive days (a 29 February and a year end among them) plus that
day. For each one it runs the real events collector in process against the ``--demo``
simulator on that day, takes its samples as ``/metrics`` serves them (with the job and instance
labels a scrape adds), and evaluates the shipped rules file on them with promtool (each day in
its own hour of one test group, one promtool run): ``CapgoBundleFailureRateHigh``'s expression
must select the demo's bad bundle and nothing else, and only the app with the bad bundle may be
above ``CapgoAppCrashesRising``'s floor.

``CAPGO_RELEASE_RULES=/path/to/capgo.rules.yml`` sweeps another rules file, e.g. the raw-ratio
rule of before the confidence bound (116 of the 367 days fail)::

    git show 7119f2c:deploy/prometheus/capgo.rules.yml > /tmp/old.rules.yml
    CAPGO_RELEASE_RULES=/tmp/old.rules.yml python -m pytest tests/mixin/test_demo_release_days.py

No test here reads the real clock: the simulator and the collectors run on a clock the test
sets to noon UTC of each day.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from capgo_exporter.collect.base import CollectContext
from capgo_exporter.collect.events import EventsCollector
from capgo_exporter.collect.inventory import InventoryCollector
from capgo_exporter.collect.samples import Samples
from capgo_exporter.daemon import DEMO_DEFAULTS, DEMO_KEY, DEMO_URL, demo_config, make_client
from capgo_exporter.mixin.config import Config
from capgo_exporter.mixin.release_rules import APP_CRASHES_PER_DAY
from capgo_exporter.mixin.rules import RULES_FILE
from capgo_exporter.settings import load_settings
from capgo_exporter.sim import Simulator
from capgo_exporter.snapshot import Part, Snapshot
from tests.tools import require_binary

# 367 days of the events collector and one promtool run: about 20 CPU seconds.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_RULES = ROOT / "deploy" / RULES_FILE
RULES_ENV = "CAPGO_RELEASE_RULES"
ALERT = "CapgoBundleFailureRateHigh"

# 2027-06-01 .. 2028-05-31: 2027-12-31 → 2028-01-01 and 2028-02-29 in one run of 366 days.
FIRST_DAY, DAYS = date(2027, 6, 1), 366
# The day a raw-ratio rule paged for a healthy bundle of the demo (com.acme.wallet 1.1.3).
RED_DAY = date(2026, 12, 5)
NOON = time(12, tzinfo=UTC)
# The labels Prometheus adds when it scrapes the exporter (the rules select job="capgo").
TARGET = {"job": "capgo", "instance": "demo"}

Labels = dict[str, str]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float


def sweep_days() -> list[date]:
    return [RED_DAY, *(FIRST_DAY + timedelta(days=i) for i in range(DAYS))]


def rules_path() -> Path:
    """The rules file to sweep: the shipped one, unless CAPGO_RELEASE_RULES names another."""
    return Path(os.environ.get(RULES_ENV) or SHIPPED_RULES).resolve()


# --- what the exporter publishes, day by day ------------------------------------------------


def _memoize_event_logs(sim: Simulator) -> None:
    """EventLog.day is a pure function of (day, action, bundle) (a hash): cache it per app, so
    each day of the sweep computes its new day only, not the whole window again. The answers,
    and so the collector's figures, are unchanged (test_one_memoized_world_publishes_…)."""
    for log in sim.world.events.values():
        # An instance attribute, which the route and EventLog.window both call; 8 days of
        # (action, bundle) pairs fit, and the sweep walks the days in order.
        vars(log)["day"] = functools.lru_cache(maxsize=16_384)(log.day)


def _series_of(samples: Samples) -> list[Sample]:
    """The events collector's samples as the series /metrics serves, named and labelled by the
    metric catalogue (checked against a render of /metrics on the first day)."""
    return [
        Sample(spec.name, dict(zip(spec.labels, values, strict=True)), value)
        for spec, family in samples.items()
        for values, value in family.items()
    ]


def _as_set(samples: list[Sample]) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {(s.name, tuple(sorted(s.labels.items())), s.value) for s in samples}


def _exposition(samples: Samples) -> list[Sample]:
    """The events collector's samples as /metrics renders them, parsed back."""
    text = Snapshot.render({"events": Part(samples, 0.0)}).text.decode()
    return [
        Sample(sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


async def _publish(
    days: list[date], built_on: date, *, memoize: bool = True
) -> dict[date, list[Sample]]:
    """What the exporter of a --demo world built on `built_on` publishes on each day."""
    instant = datetime.combine(built_on, NOON)

    def clock() -> datetime:
        return instant

    # The demo's rollout stories are not what this sweep judges: without their install traffic,
    # the simulated Capgo's rollout checks of each day cost nothing.
    sim = Simulator(replace(demo_config(), rollout_scenarios={}), clock=clock)
    if memoize:
        _memoize_event_logs(sim)
    # The demo's settings (start_demo's), with a budget that never makes the sweep wait.
    settings = load_settings(
        {**DEMO_DEFAULTS, "api_url": DEMO_URL, "api_key": DEMO_KEY, "requests_per_minute": 100_000},
        environ={},
        home=None,
    )
    published: dict[date, list[Sample]] = {}
    async with make_client(settings, None, transport=sim.transport()) as client:
        context = CollectContext(client=client, settings=settings, discovery=None, now=clock)
        inventory = await InventoryCollector().collect(context)
        context = replace(context, discovery=inventory.discovery)
        collector = EventsCollector()
        for day in days:
            instant = datetime.combine(day, NOON)
            result = await collector.collect(context)
            assert result.skipped == (), (day, result.skipped)
            published[day] = _series_of(result.samples)
            if day == days[0]:
                assert _as_set(published[day]) == _as_set(_exposition(result.samples))
    return published


def _bad_bundles() -> set[tuple[str, str]]:
    sim = Simulator(demo_config(), clock=lambda: datetime.combine(RED_DAY, NOON))
    return {
        (app, log.bad_bundle) for app, log in sim.world.events.items() if log.bad_bundle is not None
    }


@pytest.fixture(scope="module")
def published() -> dict[date, list[Sample]]:
    """Every day's figures from one world, built on the sweep's first day so that no window
    reaches back before its apps existed (120 days of history)."""
    days = sorted(sweep_days())
    return asyncio.run(_publish(days, built_on=days[0]))


# --- the promtool run -----------------------------------------------------------------------

# One test group holds every day, each in its own hour: the day's series have a sample at its
# hour and none at the others' ("_"), promtool evaluates the rules every hour, and an instant
# selector looks back 5 minutes only, so each hour sees its day's series and nothing else (the
# "series" check proves it). As fast as one group, where a group per day costs promtool a
# fresh TSDB each: 367 of them took 30 to 60 seconds on a busy 2-core machine.


@dataclass(frozen=True)
class Check:
    day: date
    # "failure": the alert's expression selects exactly the bad bundles; "crashes": only apps
    # with a bad bundle are above the crash floor; "series": the hour sees its day's series.
    what: str
    expected: frozenset[tuple[str, ...]]


def _series(sample: Sample) -> str:
    labels = {**TARGET, **sample.labels}
    inner = ",".join(f"{key}={json.dumps(value)}" for key, value in labels.items())
    return f"{sample.name}{{{inner}}}"


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _on_day(day: date, expr: str) -> str:
    """`expr` with a day label, so that promtool's report of a failure names the day."""
    return f'label_replace(\n{expr},\n"day", "{day}", "", "")'


def _labels(keys: tuple[str, ...], values: tuple[str, ...], day: date) -> str:
    pairs = [*zip(keys, values, strict=True), ("day", str(day))]
    return "{" + ",".join(f"{key}={json.dumps(value)}" for key, value in pairs) + "}"


def _alert_expr(rules: Path, name: str) -> str:
    groups = yaml.safe_load(rules.read_text(encoding="utf-8"))["groups"]
    exprs = [r["expr"] for g in groups for r in g["rules"] if r.get("alert") == name]
    assert len(exprs) == 1, f"{rules}: {len(exprs)} rules named {name}"
    return str(exprs[0]).strip()


def promtool_file(
    rules: Path,
    published: dict[date, list[Sample]],
    bad: set[tuple[str, str]],
) -> tuple[dict[str, Any], dict[str, Check]]:
    """The promtool test file, and the check behind each expression promtool may report."""
    failure = f"count by (app_id, bundle) (\n{_alert_expr(rules, ALERT)}\n)"
    crashes = f"count by (app_id) ({APP_CRASHES_PER_DAY} > {Config().crash_min_per_day:g})"
    visible = f'count({{instance="{TARGET["instance"]}"}})'
    bad_apps = frozenset((app,) for app, _ in bad)
    days = sorted(published)
    values: dict[str, list[str]] = {}
    checks: dict[str, Check] = {}
    cases = []
    for slot, day in enumerate(days):
        samples = published[day]
        for sample in samples:
            values.setdefault(_series(sample), ["_"] * len(days))[slot] = _number(sample.value)
        for what, expr, keys, expected in (
            ("failure", failure, ("app_id", "bundle"), frozenset(bad)),
            ("crashes", crashes, ("app_id",), bad_apps),
            ("series", visible, (), frozenset({()})),
        ):
            dated = _on_day(day, expr)
            checks[dated] = Check(day, what, expected)
            value = len(samples) if what == "series" else 1
            exp = [{"labels": _labels(keys, v, day), "value": value} for v in sorted(expected)]
            cases.append({"expr": dated, "eval_time": f"{slot}h", "exp_samples": exp})
    test = {
        "name": f"the demo's release verdict, {days[0]} to {days[-1]}, a day an hour",
        "interval": "1h",
        "input_series": [{"series": s, "values": " ".join(v)} for s, v in values.items()],
        "promql_expr_test": cases,
    }
    document = {"rule_files": [str(rules)], "evaluation_interval": "1h", "tests": [test]}
    return document, checks


_LABEL_SET = re.compile(r"\{([^{}]*)\}")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Got:
    keys: set[tuple[str, ...]]  # the label values promtool got
    text: str  # its "got:" line


def _reported(output: str, checks: dict[str, Check]) -> dict[Check, Got]:
    """What promtool got for each failed check: the label sets after its ``got:``."""
    failed: dict[Check, Got] = {}
    check: Check | None = None
    for line in output.splitlines():
        text = line.strip()
        if text.startswith("expr: "):
            quoted = text.removeprefix("expr: ").rsplit(", time:", 1)[0]
            check = checks.get(json.loads(quoted))
        elif text.startswith("got:") and check is not None:
            keys = {"failure": ("app_id", "bundle"), "crashes": ("app_id",)}.get(check.what, ())
            got = set()
            for label_set in _LABEL_SET.findall(text):
                labels = dict(_LABEL.findall(label_set))
                got.add(tuple(labels.get(key, "") for key in keys))
            failed[check] = Got(got, text)
            check = None
    return failed


def _counts(samples: list[Sample]) -> dict[tuple[str, str], tuple[float, float]]:
    """(failure events, install attempts) per (app, bundle), as the exporter published them."""
    failures: dict[tuple[str, str], float] = {}
    installs: dict[tuple[str, str], float] = {}
    for s in samples:
        if s.name != "capgo_bundle_events":
            continue
        key = (s.labels["app_id"], s.labels["bundle"])
        counts = installs if s.labels["action"] == "set" else failures
        counts[key] = counts.get(key, 0.0) + s.value
    return {
        key: (failures.get(key, 0.0), failures.get(key, 0.0) + installs.get(key, 0.0))
        for key in failures.keys() | installs.keys()
    }


def _crashes_per_day(samples: list[Sample], app: str) -> float:
    window = next(s.value for s in samples if s.name == "capgo_events_window_seconds")
    crashes = sum(
        s.value
        for s in samples
        if s.name == "capgo_app_events"
        and s.labels["app_id"] == app
        and s.labels["action"] in ("app_crash", "app_crash_native", "app_anr")
    )
    return crashes / (window / 86_400)


def explain(failed: dict[Check, Got], published: dict[date, list[Sample]]) -> list[str]:
    """One line per day and check that went wrong, with the published counts."""
    lines = []
    for check in sorted(failed, key=lambda c: (c.day, c.what)):
        got, samples = failed[check].keys, published[check.day]
        if check.what == "failure":
            counts = _counts(samples)

            def describe(key: tuple[str, ...], counts: Any = counts) -> str:
                f, n = counts.get((key[0], key[1]), (0.0, 0.0))
                ratio = f"{f / n:.1%}" if n else "-"
                return f"{key[0]} {key[1]} ({f:.0f} failures in {n:.0f} attempts, {ratio})"

            lines += [
                f"{check.day}: {ALERT} selects healthy {describe(k)}"
                for k in sorted(got - check.expected)
            ]
            lines += [
                f"{check.day}: {ALERT} misses the bad bundle {describe(k)}"
                for k in sorted(check.expected - got)
            ]
        elif check.what == "crashes":
            lines += [
                f"{check.day}: {key[0]} is {'above' if key in got else 'under'} the crash floor "
                f"({_crashes_per_day(samples, key[0]):.1f} crashes a day)"
                for key in sorted(got ^ check.expected)
            ]
        else:
            lines.append(
                f"{check.day}: the day's hour does not see its {len(samples)} series alone: "
                f"{failed[check].text}"
            )
    return lines


# --- the tests ------------------------------------------------------------------------------


def test_the_sweep_covers_a_leap_day_a_year_end_and_the_red_day() -> None:
    days = sweep_days()
    run = days[1:]
    assert len(run) == 366
    assert len(set(days)) == len(days)
    assert all(b - a == timedelta(days=1) for a, b in pairwise(run))
    assert date(2028, 2, 29) in run
    assert {date(2027, 12, 31), date(2028, 1, 1)} <= set(run)
    assert RED_DAY in days


def test_one_memoized_world_publishes_what_a_world_built_that_day_would(
    published: dict[date, list[Sample]],
) -> None:
    """The sweep builds the demo world once, memoizes its event logs and moves its clock: on
    the sweep's last day (the furthest from when it was built), a world built that day, as
    --demo builds it, publishes the same figures."""
    last = max(published)
    fresh = asyncio.run(_publish([last], built_on=last, memoize=False))[last]
    assert fresh == published[last]


def test_the_shipped_rules_page_for_the_bad_bundle_only_on_every_day(
    published: dict[date, list[Sample]], tmp_path: Path
) -> None:
    promtool = require_binary("promtool")
    bad = _bad_bundles()
    assert {app for app, _ in bad} == {"com.acme.shop"}
    rules = rules_path()
    document, checks = promtool_file(rules, published, bad)
    # JSON is YAML to promtool, and Python's json writes it far faster than its yaml.
    path = tmp_path / "demo-release-days.test.json"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode == 0:
        return
    lines = explain(_reported(output, checks), published)
    assert lines, f"promtool failed, and its report was not understood:\n{output}"
    days = sorted({line[:10] for line in lines})
    pytest.fail(
        f"{rules}: the demo's release story breaks on {len(days)} of {len(published)} days "
        f"(bad bundle: {sorted(bad)}):\n" + "\n".join(lines),
        pytrace=False,
    )
