"""The promtool unit tests of the staleness alerts, generated from the collector registry.

CapgoExporterDataStale and CapgoExporterDataAging are one rule each for every collector: they
compare a collector's last success with the max age its exporter publishes. Their unit tests
give every collector of ``REGISTRY`` a case in each scenario, with the max age the exporter uses
by default (``Settings.max_age_for``), so a new collector is tested without anyone listing it.
The file is committed, so ``promtool test rules deploy/prometheus/tests/*.yml`` runs it like the
hand-written ones; ``tests/mixin/test_rules.py`` fails while it differs from what this renders.

    python -m tests.mixin.staleness_cases    # rewrites deploy/prometheus/tests/staleness.test.yml
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.mixin.config import DEFAULT_RUNBOOK_URL_BASE
from capgo_exporter.mixin.rules import RULES_FILE
from capgo_exporter.selfmetrics import COLLECTOR_LAST_SUCCESS, COLLECTOR_MAX_AGE
from capgo_exporter.settings import load_settings

ROOT: Final = Path(__file__).resolve().parents[2]
PATH: Final = ROOT / "deploy" / "prometheus" / "tests" / "staleness.test.yml"
RULES: Final = ROOT / "deploy" / RULES_FILE
STALE: Final = "CapgoExporterDataStale"
AGING: Final = "CapgoExporterDataAging"
JOB: Final = "capgo"
INSTANCE: Final = "exporter"
MINUTE: Final = 60
# The alerts have no `for` and the series are constant, so only the evaluation at the case's
# time matters: hourly samples and evaluations (every case is at a whole hour) spare promtool
# 360 evaluations of every rule per case, which at one a minute were 13 of its seconds.
STEP: Final = 3600

Doc = dict[str, Any]
# A collector's age at the evaluation (seconds since its last success), from its max age.
AgeOf = Callable[[int], int]


def default_max_ages() -> dict[str, int]:
    """Each collector's max age as the exporter uses it when nothing is configured."""
    settings = load_settings({}, environ={}, home=None)
    return {name: int(settings.max_age_for(name)) for name in COLLECTORS}


def humanize_duration(seconds: int) -> str:
    """Prometheus' humanizeDuration for whole seconds from a minute on ("1h 1m 0s")."""
    if seconds < MINUTE:
        raise ValueError("the cases' durations are a minute or more")
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m {secs}s"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s"


class Scenario:
    """Exporters publishing max ages, collectors last succeeding some time before ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at  # the evaluation time, seconds from the start of the test
        self.series: list[Doc] = []
        self.expected: dict[str, list[Doc]] = {STALE: [], AGING: []}

    def exporter(self, instance: str, max_ages: Mapping[str, int], age_of: AgeOf) -> None:
        """``instance`` publishes ``max_ages``; each collector last succeeded ``age_of(its max
        age)`` seconds before the evaluation (0: it never succeeded)."""
        samples = self.at // STEP + 1
        for name, max_age in max_ages.items():
            age = age_of(max_age)
            last_success = self.at - age if age else 0
            labels = f'job="{JOB}",instance="{instance}",collector="{name}"'
            self.series += [
                {
                    "series": f"{COLLECTOR_LAST_SUCCESS.name}{{{labels}}}",
                    "values": f"{last_success}x{samples}",
                },
                {
                    "series": f"{COLLECTOR_MAX_AGE.name}{{{labels}}}",
                    "values": f"{max_age}x{samples}",
                },
            ]
            if age and age > max_age:
                self.expected[STALE].append(_stale(instance, name, age, max_age))
            if age and 3 * age > 2 * max_age:
                self.expected[AGING].append(_aging(instance, name, age, max_age))

    def test(self, name: str, *alerts: str) -> Doc:
        """The promtool test: what ``alerts`` fire at the evaluation time, none of them or all."""
        checks = [
            {
                "eval_time": _duration(self.at),
                "alertname": alert,
                "exp_alerts": self.expected[alert],
            }
            for alert in alerts
        ]
        return {
            "name": name,
            "interval": _duration(STEP),
            "input_series": self.series,
            "alert_rule_test": checks,
        }


def _duration(seconds: int) -> str:
    """A duration as promtool reads it: whole hours, else minutes."""
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // MINUTE}m"


def _where(instance: str) -> str:
    return f"{instance} (job {JOB})"


def _alert(alert: str, instance: str, collector: str, summary: str, description: str) -> Doc:
    return {
        "exp_labels": {
            "severity": "warning",
            "job": JOB,
            "instance": instance,
            "collector": collector,
        },
        "exp_annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{DEFAULT_RUNBOOK_URL_BASE}#{alert.lower()}",
        },
    }


def _stale(instance: str, collector: str, age: int, max_age: int) -> Doc:
    return _alert(
        STALE,
        instance,
        collector,
        "capgo-exporter no longer serves a collector's figures.",
        f"The {collector} collector of {_where(instance)} last succeeded "
        f"{humanize_duration(age)} ago, longer than its max age of {humanize_duration(max_age)}: "
        "the exporter has dropped its figures, so dashboards miss them and alerts on them "
        "cannot fire.",
    )


def _aging(instance: str, collector: str, age: int, max_age: int) -> Doc:
    return _alert(
        AGING,
        instance,
        collector,
        "capgo-exporter will soon drop a collector's figures.",
        f"The {collector} collector of {_where(instance)} last succeeded "
        f"{humanize_duration(age)} ago; its figures are dropped (and its collector_up goes to 0) "
        f"when they are {humanize_duration(max_age)} old.",
    )


def two_thirds(max_age: int) -> int:
    """The warning's threshold; of a default max age (three intervals), whole seconds."""
    return max_age * 2 // 3


def tests() -> list[Doc]:
    max_ages = default_max_ages()
    # Late enough for the longest max age to have passed twice over, in whole hours.
    at = math.ceil(2 * max(max_ages.values()) / 3600) * 3600

    def scenario(age_of: AgeOf) -> Scenario:
        made = Scenario(at)
        made.exporter(INSTANCE, max_ages, age_of)
        return made

    # --collector.max-age 2h on one exporter, the defaults on another: each is judged by the
    # max age it publishes, whatever the rules were rendered with.
    configured = Scenario(at)
    configured.exporter("a", dict.fromkeys(max_ages, 7200), lambda _: 7200 + MINUTE)
    configured.exporter("b", max_ages, lambda _: 7200 + MINUTE)
    return [
        scenario(lambda max_age: max_age + MINUTE).test(
            "every collector a minute past its max age", STALE
        ),
        scenario(lambda max_age: max_age - MINUTE).test(
            "every collector a minute within its max age", STALE
        ),
        scenario(lambda max_age: two_thirds(max_age) + MINUTE).test(
            "every collector a minute past two thirds of its max age", STALE, AGING
        ),
        scenario(lambda max_age: two_thirds(max_age) - MINUTE).test(
            "every collector a minute short of two thirds of its max age", AGING
        ),
        # CollectorFailing's case: the last success is 0.
        scenario(lambda _: 0).test("no collector has succeeded yet", STALE, AGING),
        configured.test("each exporter's own max age", STALE),
    ]


HEADER: Final = (
    "# Generated by `python -m tests.mixin.staleness_cases` from the collector registry; do not\n"
    "# edit. promtool test rules deploy/prometheus/tests/*.yml: the staleness alerts, every\n"
    "# collector with the max age the exporter publishes for it by default.\n"
)


def group_order() -> list[str]:
    """The shipped rules file's groups in its order (the recording rules come first)."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [str(group["name"]) for group in rules["groups"]]


def render() -> str:
    doc = {
        "rule_files": ["../capgo.rules.yml"],
        "evaluation_interval": _duration(STEP),
        # promtool orders the groups at random otherwise (tests/mixin/test_rules.py).
        "group_eval_order": group_order(),
        "tests": tests(),
    }
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=1000, allow_unicode=True)


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
    print(PATH)
