"""Prometheus alerting and recording rules of the mixin, as Python, and their renderer.

    python -m capgo_exporter.mixin.rules [--selector 'job="capgo"'] [--runbook-url-base URL]
        [--collector.statistics.interval 15m …] [--collector.max-age D] [--out DIR]

writes ``DIR/prometheus/capgo.rules.yml`` (plain Prometheus rule groups) and
``DIR/kubernetes/prometheusrule.yaml`` (the same groups in a prometheus-operator PrometheusRule);
``DIR`` defaults to ``deploy``, where the committed files live. The collector flags are the
exporter's own: give the values the exporter runs with, so the staleness alert knows each
collector's max age.

Conventions (monitoring-mixins): alert names are CamelCase with a ``Capgo`` prefix; every alert
has a ``severity`` (critical, warning) and ``summary`` (a fixed sentence), ``description``
(templated with the labels and value) and ``runbook_url`` (an anchor of ``docs/runbooks.md``)
annotations. Recording rules are named ``level:metric:operations``. Every selector carries the
configured selector. Capgo figures are per organization, app or channel, so they are aggregated
``by`` those labels alone; the exporter's own figures keep ``job`` and ``instance``, because
they say which exporter is in trouble. Per-entity gauges are combined with ``max``, not
``sum``: a figure that is one value per org stays one value when two exporters (an HA pair)
scrape the same account.

The exporter polls Capgo every 5 to 60 minutes (statistics 15 m, inventory and devices 5 m,
account 1 h) and Capgo's usage figures are daily, so ``for:`` durations and rate windows are
long: a window shorter than a poll interval would see nothing but steps.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from capgo_exporter.collectors import COLLECTORS, REGISTRY, CollectorName
from capgo_exporter.mixin import release_rules
from capgo_exporter.mixin.ruledocs import Alert, Doc, Record, Severity, dump, prometheus_rule
from capgo_exporter.selfmetrics import COLLECTOR_LAST_SUCCESS
from capgo_exporter.settings import FLAG_NAMES, effective_max_age, format_duration, parse_duration

DEFAULT_SELECTOR: Final = 'job="capgo"'
# Where docs/runbooks.md is published; each alert links to its own heading there. Point it at
# your own copy (a wiki, a fork) with --runbook-url-base.
DEFAULT_RUNBOOK_URL_BASE: Final = (
    "https://github.com/capgo-exporter/capgo-exporter/blob/main/docs/runbooks.md"
)
RULES_FILE: Final = Path("prometheus/capgo.rules.yml")
PROMETHEUS_RULE_FILE: Final = Path("kubernetes/prometheusrule.yaml")

DAY: Final = 86_400


def _default_intervals() -> dict[CollectorName, float]:
    """The exporter's default poll interval per collector, from the collector registry."""
    return {name: spec.default_interval for name, spec in REGISTRY.items()}


@dataclass(frozen=True)
class Config:
    """What a user may change when rendering their own rules."""

    # Scopes every series selector, e.g. 'job="capgo"' or 'job="capgo",cluster="eu"'.
    selector: str = DEFAULT_SELECTOR
    runbook_url_base: str = DEFAULT_RUNBOOK_URL_BASE
    # The exporter's poll intervals and max age, as it is configured (seconds).
    intervals: Mapping[CollectorName, float] = field(default_factory=_default_intervals)
    max_age: float | None = None
    usage_warning: float = 0.8
    usage_critical: float = 0.95
    api_error_ratio: float = 0.1
    # MAU growth is measured over this many days; a younger cycle uses the whole days it has.
    projection_window_days: int = 3
    rollout_stall_hours: int = 24
    # Adoption growing by less than this over the stall window counts as not growing.
    rollout_min_growth: float = 0.01
    apikey_warning_days: int = 7
    apikey_critical_days: int = 1
    # CapgoBundleFailureRateHigh: the Wilson score lower bound of a bundle's failure ratio at
    # this confidence is above bundle_failure_ratio, and the bundle has at least this many
    # failure events in the window (5: a couple of crashes on a tester's device must not page,
    # and a bundle failing 20 % of its attempts has 5 within its first 25 or so).
    bundle_failure_ratio: float = 0.05
    bundle_failure_confidence: float = 0.95
    bundle_failure_min_failures: int = 5
    events_days: int = 7
    crash_rise_factor: float = 2.0
    crash_min_per_day: float = 10.0

    def max_age_for(self, collector: CollectorName) -> float:
        """The exporter's own rule (three intervals unless set), so both agree."""
        return effective_max_age(self.intervals[collector], self.max_age)


@dataclass(frozen=True)
class Group:
    name: str
    rules: tuple[Alert | Record, ...]


# Recorded series, named here once because alerts read them.
MAU_RATIO: Final = "org_id:capgo_org_monthly_active_users_per_limit:ratio"
STORAGE_RATIO: Final = "org_id:capgo_org_storage_bytes_per_limit:ratio"
BANDWIDTH_RATIO: Final = "org_id:capgo_org_bandwidth_bytes_per_limit:ratio"
MAU_PROJECTED: Final = "org_id:capgo_org_monthly_active_users:projected_cycle_end"
APP_DEVICES: Final = "app_id:capgo_app_devices:sum"
REQUESTS_BY_CLASS: Final = "instance_code_class:capgo_exporter_api_requests:rate30m"
ERROR_RATIO: Final = "instance:capgo_exporter_api_request_errors_per_requests:ratio_rate30m"

# Which exporter, in descriptions of the exporter's alerts.
_WHERE: Final = "{{ $labels.instance }} (job {{ $labels.job }})"
# Requests that got no useful answer: Capgo failing, or not answering at all. The exporter
# dashboard's error share counts the same.
ERROR_CODES: Final = 'code=~"5..|timeout|connection_error"'


class Rules:
    """The rule groups for one configuration."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def s(self, metric: str, *matchers: str) -> str:
        """A series selector scoped by the configured selector."""
        inner = ",".join(part for part in (self.config.selector, *matchers) if part)
        return f"{metric}{{{inner}}}" if inner else metric

    def groups(self) -> list[Group]:
        return [
            Group("capgo.rules", self.records()),
            Group("capgo-exporter.alerts", self.exporter_alerts()),
            Group("capgo.alerts", self.usage_alerts() + self.channel_alerts() + self.key_alerts()),
            Group("capgo-release.alerts", release_rules.alerts(self)),
        ]

    def records(self) -> tuple[Record, ...]:
        s, c = self.s, self.config
        usage = (
            (MAU_RATIO, "capgo_org_monthly_active_users", "capgo_org_monthly_active_users_limit"),
            (STORAGE_RATIO, "capgo_org_storage_bytes", "capgo_org_storage_limit_bytes"),
            (BANDWIDTH_RATIO, "capgo_org_bandwidth_bytes", "capgo_org_bandwidth_limit_bytes"),
        )
        window = c.projection_window_days
        return (
            # Limits exist only when configured, so orgs without one have no ratio at all.
            *(
                Record(name, f"max by (org_id) ({s(used)})\n/\nmax by (org_id) ({s(limit)})\n")
                for name, used, limit in usage
            ),
            Record(MAU_PROJECTED, self.mau_projection(window)),
            Record(APP_DEVICES, f"sum by (app_id) ({s('capgo_app_devices')})"),
            # code_class is 2xx…5xx for HTTP statuses, and timeout or connection_error as is.
            Record(
                REQUESTS_BY_CLASS,
                "sum by (job, instance, code_class) (\n  label_replace(\n    label_replace(\n"
                f"      rate({s('capgo_exporter_api_requests_total')}[30m]),\n"
                '      "code_class", "$1", "code", "(.+)"\n    ),\n'
                '    "code_class", "${1}xx", "code", "([1-5])[0-9][0-9]"\n  )\n)\n',
            ),
            # Error series appear with the first error, so "or … * 0" gives 0, not no data,
            # while every request succeeds.
            Record(
                ERROR_RATIO,
                "(\n  sum by (job, instance) "
                f"(rate({s('capgo_exporter_api_requests_total', ERROR_CODES)}[30m]))\n"
                "  or\n  sum by (job, instance) "
                f"(rate({s('capgo_exporter_api_requests_total')}[30m])) * 0\n)\n/\n"
                f"sum by (job, instance) (rate({s('capgo_exporter_api_requests_total')}[30m]))\n",
            ),
            *release_rules.records(self),
        )

    def exporter_alerts(self) -> tuple[Alert, ...]:
        s, c = self.s, self.config
        rate_limited = s("capgo_exporter_api_retries_total", 'reason="rate_limited"')
        return (
            Alert(
                "CapgoExporterDown",
                "critical",
                f"{s('up')} == 0",
                "Prometheus cannot scrape capgo-exporter.",
                f"Scrapes of {_WHERE} have failed for 5 minutes: no Capgo figure from it is "
                "current, and the Capgo alerts cannot fire.",
                "5m",
            ),
            Alert(
                "CapgoExporterAbsent",
                "critical",
                f"absent({s('up')})",
                "No capgo-exporter target is known to Prometheus.",
                f"No scrape target has matched {{{c.selector}}} for 15 minutes: Prometheus is "
                "not scraping capgo-exporter, and the Capgo alerts cannot fire.",
                "15m",
            ),
            Alert(
                "CapgoExporterCollectorFailing",
                "warning",
                f"{s('capgo_exporter_collector_up')} == 0",
                "A capgo-exporter collector keeps failing.",
                "No run of the {{ $labels.collector }} collector of " + _WHERE + " has completed "
                "whole for 30 minutes: each failed, or (events) left apps out. Last good figures "
                "are served until older than the exporter's max age, then they disappear.",
                "30m",
            ),
            # One rule per collector: each has its own interval, which Prometheus cannot see.
            *(self._stale(name) for name in COLLECTORS),
            # ...and one that warns while the figures are still served.
            *(self._aging(name) for name in COLLECTORS),
            # Retries, not requests with code 429: retry series start at 0, so the first 429
            # counts; a request series is created by its first answer and that one is missed.
            Alert(
                "CapgoApiRateLimited",
                "warning",
                f"sum by (job, instance) (increase({rate_limited}[15m])) > 0",
                "Capgo keeps rate limiting capgo-exporter.",
                "Capgo answered " + _WHERE + " with 429 Too Many Requests about "
                "{{ $value | humanize }} times in the last 15 minutes, and has for 30 minutes. "
                "The exporter's own budget never exceeds the limit, so something else spends "
                "it: another client with the same key or address, or a budget set too high.",
                "30m",
            ),
            Alert(
                "CapgoApiErrors",
                "warning",
                f"{ERROR_RATIO} > {c.api_error_ratio:g}",
                "Many capgo-exporter requests to Capgo fail.",
                "{{ $value | humanizePercentage }} of the requests " + _WHERE + " sent to Capgo "
                "in the last 30 minutes failed with a 5xx status, a timeout or a connection "
                "error.",
                "15m",
            ),
        )

    def _stale(self, collector: CollectorName) -> Alert:
        # This also catches a collector whose runs hang instead of failing (its up stays 1);
        # "> 0" leaves out a collector that never succeeded, which CollectorFailing reports.
        age = self.config.max_age_for(collector)
        last_success = self.s(COLLECTOR_LAST_SUCCESS.name, f'collector="{collector}"')
        return Alert(
            "CapgoExporterDataStale",
            "warning",
            f"time() - ({last_success} > 0) > {age:g}",
            "capgo-exporter no longer serves a collector's figures.",
            "The {{ $labels.collector }} collector of " + _WHERE + " last succeeded "
            "{{ $value | humanizeDuration }} ago, longer than its max age of "
            f"{format_duration(age)}: the exporter has dropped its figures, so dashboards miss "
            "them and alerts on them cannot fire.",
            labels={"collector": collector},
        )

    def _aging(self, collector: CollectorName) -> Alert:
        # Two thirds of the max age (two intervals by default): one run has been missed and
        # there is still a run's worth of time to act before the figures are dropped.
        max_age = self.config.max_age_for(collector)
        age = max_age * 2 / 3
        last_success = self.s(COLLECTOR_LAST_SUCCESS.name, f'collector="{collector}"')
        return Alert(
            "CapgoExporterDataAging",
            "warning",
            f"time() - ({last_success} > 0) > {age:g}",
            "capgo-exporter will soon drop a collector's figures.",
            "The {{ $labels.collector }} collector of " + _WHERE + " last succeeded "
            "{{ $value | humanizeDuration }} ago; its figures are dropped (and its "
            f"collector_up goes to 0) when they are {format_duration(max_age)} old.",
            labels={"collector": collector},
        )

    def mau_projection(self, window_days: int) -> str:
        """Today's MAU plus its recent growth rate, carried to the cycle's end.

        A cycle's MAU grows fastest in its first days (every returning device is new to the
        cycle): a rate averaged since the cycle start overshoots, the recent rate follows the
        slowdown. Capgo updates MAU about daily, hence a look-back of days. It must lie within
        the cycle (MAU restarts at the cycle start), so a younger cycle uses the whole days it
        has: from its second day on. `or` keeps the longest look-back that exists per org.
        """
        s = self.s
        mau = s("capgo_org_monthly_active_users")
        cycle_end = s("capgo_org_billing_cycle_end_timestamp_seconds")
        cycle_start = s("capgo_org_billing_cycle_start_timestamp_seconds")
        terms = [
            f"(\n  max by (org_id) ({mau})\n"
            f"  + max by (org_id) (deriv({mau}[{days}d]))\n"
            f"  * max by (org_id) ({cycle_end} - time())\n"
            f"  and on (org_id)\n  max by (org_id) (time() - {cycle_start}) > {days * DAY}\n)"
            for days in range(window_days, 0, -1)
        ]
        return "\nor\n".join(terms) + "\n"

    def usage_alerts(self) -> tuple[Alert, ...]:
        c = self.config
        usage = (
            ("CapgoMonthlyActiveUsersNearLimit", MAU_RATIO, "monthly active users"),
            ("CapgoStorageNearLimit", STORAGE_RATIO, "storage"),
            ("CapgoBandwidthNearLimit", BANDWIDTH_RATIO, "bandwidth"),
        )
        levels: tuple[tuple[Severity, float, str], ...] = (
            ("warning", c.usage_warning, "30m"),
            ("critical", c.usage_critical, "15m"),
        )
        near = tuple(
            Alert(
                name,
                severity,
                f"{ratio} >= {threshold:g}",
                f"A Capgo organization is near its plan's {what} limit.",
                "Organization {{ $labels.org_id }} uses {{ $value | humanizePercentage }} of "
                f"its plan's {what} limit.",
                for_,
            )
            for name, ratio, what in usage
            for severity, threshold, for_ in levels
        )
        window = c.projection_window_days
        projected = Alert(
            "CapgoMonthlyActiveUsersProjectedOverLimit",
            "warning",
            f"{MAU_PROJECTED}\n/ on (org_id)\n"
            f"max by (org_id) ({self.s('capgo_org_monthly_active_users_limit')})\n> 1\n",
            "A Capgo organization is on course to pass its plan's MAU limit this cycle.",
            f"Growing as in the last {window} days (fewer while the cycle is younger), "
            "organization {{ $labels.org_id }} "
            "will reach {{ $value | humanizePercentage }} of its plan's monthly active users "
            "limit by the end of the billing cycle.",
            "3h",
        )
        return (*near, projected)

    def channel_alerts(self) -> tuple[Alert, ...]:
        s, c = self.s, self.config
        adoption = s("capgo_channel_bundle_adoption_ratio")
        hours = c.rollout_stall_hours
        by = "max by (app_id, channel)"
        channel = "channel {{ $labels.channel }} of app {{ $labels.app_id }}"
        return (
            # A rollout that is enabled, not paused, not complete, unchanged for the window, and
            # whose adoption has not moved: nobody is promoting it or devices do not take it.
            Alert(
                "CapgoRolloutStalled",
                "warning",
                f"{by} ({adoption}) < 1\n"
                "and on (app_id, channel)\n"
                f"(\n  {by} ({adoption})\n  - {by} ({adoption} offset {hours}h)\n)"
                f" < {c.rollout_min_growth:g}\n"
                "and on (app_id, channel)\n"
                f"{by} ({s('capgo_channel_rollout_paused')}) == 0\n"
                "unless on (app_id, channel)\n"
                f"{by} (time() - {s('capgo_channel_updated_timestamp_seconds')})"
                f" < {hours * 3600}\n",
                "A Capgo rollout has stopped progressing.",
                f"The rollout on {channel} has been unchanged for {hours} hours, and its "
                "bundle's adoption, now {{ $value | humanizePercentage }}, has gained less than "
                f"{c.rollout_min_growth * 100:g}% of the channel's devices in that time.",
                "1h",
            ),
            Alert(
                "CapgoRolloutPaused",
                "warning",
                f"{by} ({s('capgo_channel_rollout_paused')}) == 1",
                "A Capgo rollout is paused.",
                f"The rollout on {channel} has been paused for 15 minutes (by hand, or by "
                "Capgo's auto-pause on failed updates).",
                "15m",
            ),
        )

    def key_alerts(self) -> tuple[Alert, ...]:
        c = self.config
        left = (
            "max by (apikey_id, apikey_name) "
            f"({self.s('capgo_apikey_expiry_timestamp_seconds')}) - time()"
        )
        # An expired key stays listed until deleted; it keeps the alert firing, since either
        # something still uses it or it should go.
        expiry = (
            "{{ if ge $value 0.0 }}expires in {{ $value | humanizeDuration }}"
            "{{ else }}has expired{{ end }}"
        )
        levels: tuple[tuple[Severity, int], ...] = (
            ("warning", c.apikey_warning_days),
            ("critical", c.apikey_critical_days),
        )
        return tuple(
            Alert(
                "CapgoApiKeyExpiringSoon",
                severity,
                f"{left} < {days * DAY}",
                f"A Capgo API key expires within {days} day{'s' if days > 1 else ''}.",
                "Capgo API key {{ $labels.apikey_name }} (id {{ $labels.apikey_id }}) "
                f"{expiry}.",
            )
            for severity, days in levels
        )

    def runbook_url(self, alert: str) -> str:
        # GitHub's anchor for a heading that is the bare alert name.
        return f"{self.config.runbook_url_base}#{alert.lower()}"

    def rule_doc(self, rule: Alert | Record) -> Doc:
        if isinstance(rule, Record):
            return {"record": rule.name, "expr": rule.expr}
        doc: Doc = {"alert": rule.name, "expr": rule.expr}
        if rule.for_ is not None:
            doc["for"] = rule.for_
        doc["labels"] = {"severity": rule.severity, **rule.labels}
        doc["annotations"] = {
            "summary": rule.summary,
            "description": rule.description,
            "runbook_url": self.runbook_url(rule.name),
        }
        return doc

    def groups_doc(self) -> list[Doc]:
        return [
            {"name": g.name, "rules": [self.rule_doc(r) for r in g.rules]} for g in self.groups()
        ]


_HEADER = "# Generated by `python -m capgo_exporter.mixin.rules`; do not edit.\n"
_OPERATOR_NOTE = (
    "# kube-prometheus-stack picks up rules by its release label: add `release: <its release>`\n"
    "# in kustomization.yaml (labels:, with includeSelectors: false), or set\n"
    "# prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false.\n"
)


def render(config: Config) -> dict[Path, str]:
    """The rendered files, by path relative to the output directory."""
    groups = Rules(config).groups_doc()
    return {
        RULES_FILE: _HEADER + dump({"groups": groups}),
        PROMETHEUS_RULE_FILE: _HEADER + _OPERATOR_NOTE + dump(prometheus_rule(groups)),
    }


def _config_from(args: argparse.Namespace) -> Config:
    intervals = {name: float(getattr(args, spec.interval_field)) for name, spec in REGISTRY.items()}
    return Config(
        selector=args.selector,
        runbook_url_base=args.runbook_url_base,
        intervals=intervals,
        max_age=args.max_age,
        **release_rules.config_values(args),
    )


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m capgo_exporter.mixin.rules",
        description="Render capgo-exporter's Prometheus rules and PrometheusRule.",
    )
    parser.add_argument("--out", type=Path, default=Path("deploy"), help="output directory")
    parser.add_argument(
        "--selector", default=DEFAULT_SELECTOR, help="label matchers scoping every series"
    )
    parser.add_argument(
        "--runbook-url-base", default=DEFAULT_RUNBOOK_URL_BASE, help="URL of docs/runbooks.md"
    )
    defaults = Config()
    for name, spec in REGISTRY.items():
        parser.add_argument(
            spec.interval_flag,
            dest=spec.interval_field,
            type=_duration,
            default=defaults.intervals[name],
            help=f"the exporter's {name} interval (default: "
            f"{format_duration(defaults.intervals[name])})",
        )
    parser.add_argument(
        FLAG_NAMES["max_age"],
        dest="max_age",
        type=_duration,
        default=None,
        help="the exporter's max age (default: three times each collector's interval)",
    )
    release_rules.add_arguments(parser, defaults)
    args = parser.parse_args(argv)
    for path, text in render(_config_from(args)).items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(target, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
