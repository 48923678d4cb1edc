"""The exporter's own rules: its requests to Capgo recorded by status class and error share, and
the alerts on the exporter itself (down, absent, a collector failing, data aging and stale,
Capgo rate limiting or failing, the circuit open during an outage).

The exporter's figures keep ``job`` and ``instance``: they say which exporter is in trouble.
"""

from __future__ import annotations

from typing import Final

from capgo_exporter.mixin.config import Config
from capgo_exporter.mixin.ruledocs import Alert, Record
from capgo_exporter.selfmetrics import API_CIRCUIT_OPEN, COLLECTOR_LAST_SUCCESS, COLLECTOR_MAX_AGE

REQUESTS_BY_CLASS: Final = "instance_code_class:capgo_exporter_api_requests:rate30m"
ERROR_RATIO: Final = "instance:capgo_exporter_api_request_errors_per_requests:ratio_rate30m"

# Which exporter, in descriptions of the exporter's alerts.
_WHERE: Final = "{{ $labels.instance }} (job {{ $labels.job }})"
# Requests that got no useful answer: Capgo failing, or not answering at all. The exporter
# dashboard's error share counts the same.
ERROR_CODES: Final = 'code=~"5..|timeout|connection_error"'


def records(config: Config) -> tuple[Record, ...]:
    requests = config.select("capgo_exporter_api_requests_total")
    errors = config.select("capgo_exporter_api_requests_total", ERROR_CODES)
    return (
        # code_class is 2xx…5xx for HTTP statuses, and timeout or connection_error as is.
        Record(
            REQUESTS_BY_CLASS,
            "sum by (job, instance, code_class) (\n  label_replace(\n    label_replace(\n"
            f"      rate({requests}[30m]),\n"
            '      "code_class", "$1", "code", "(.+)"\n    ),\n'
            '    "code_class", "${1}xx", "code", "([1-5])[0-9][0-9]"\n  )\n)\n',
        ),
        # Error series appear with the first error, so "or … * 0" gives 0, not no data,
        # while every request succeeds.
        Record(
            ERROR_RATIO,
            "(\n  sum by (job, instance) "
            f"(rate({errors}[30m]))\n"
            "  or\n  sum by (job, instance) "
            f"(rate({requests}[30m])) * 0\n)\n/\n"
            f"sum by (job, instance) (rate({requests}[30m]))\n",
        ),
    )


def alerts(config: Config) -> tuple[Alert, ...]:
    return (
        *_availability_alerts(config),
        _stale(config),
        _aging(config),
        *_api_alerts(config),
    )


def _availability_alerts(config: Config) -> tuple[Alert, ...]:
    """The exporter is not scraped, or one of its collectors keeps failing."""
    up = config.select("up")
    return (
        Alert(
            "CapgoExporterDown",
            "critical",
            f"{up} == 0",
            "Prometheus cannot scrape capgo-exporter.",
            f"Scrapes of {_WHERE} have failed for 5 minutes: no Capgo figure from it is "
            "current, and the Capgo alerts cannot fire.",
            "5m",
        ),
        Alert(
            "CapgoExporterAbsent",
            "critical",
            f"absent({up})",
            "No capgo-exporter target is known to Prometheus.",
            f"No scrape target has matched {{{config.selector}}} for 15 minutes: Prometheus is "
            "not scraping capgo-exporter, and the Capgo alerts cannot fire.",
            "15m",
        ),
        Alert(
            "CapgoExporterCollectorFailing",
            "warning",
            f"{config.select('capgo_exporter_collector_up')} == 0",
            "A capgo-exporter collector keeps failing.",
            "No run of the {{ $labels.collector }} collector of " + _WHERE + " has completed "
            "whole for 30 minutes: each failed, (events) left apps out, or a run has lasted "
            "longer than the interval. Last good figures are served until older than the "
            "exporter's max age, then they disappear.",
            "30m",
        ),
    )


# Each collector's age against the max age its exporter publishes, matched per exporter and
# collector: one rule for every collector, which follows the exporter's interval and max-age
# settings without re-rendering. group_left keeps the age's own labels (the target's, such as
# a cluster or namespace) rather than only those matched on.
_PER_COLLECTOR: Final = "on (job, instance, collector) group_left"


def _age(config: Config) -> str:
    """Seconds since each collector's last success; "> 0" leaves out a collector that never
    succeeded, which CollectorFailing reports."""
    return f"time() - ({config.select(COLLECTOR_LAST_SUCCESS.name)} > 0)"


def _max_age_text() -> str:
    """The alerted collector's max age as its exporter publishes it, for a description."""
    query = (
        f'printf "{COLLECTOR_MAX_AGE.name}{{job=%q,instance=%q,collector=%q}}" '
        "$labels.job $labels.instance $labels.collector"
    )
    return (
        f"{{{{ with {query} | query }}}}{{{{ . | first | value | humanizeDuration }}}}{{{{ end }}}}"
    )


def _stale(config: Config) -> Alert:
    # This also catches a collector whose runs hang instead of failing (its up stays 1).
    max_age = config.select(COLLECTOR_MAX_AGE.name)
    return Alert(
        "CapgoExporterDataStale",
        "warning",
        f"{_age(config)}\n> {_PER_COLLECTOR}\n{max_age}\n",
        "capgo-exporter no longer serves a collector's figures.",
        "The {{ $labels.collector }} collector of " + _WHERE + " last succeeded "
        "{{ $value | humanizeDuration }} ago, longer than its max age of "
        f"{_max_age_text()}: the exporter has dropped its figures, so dashboards miss "
        "them and alerts on them cannot fire.",
    )


def _aging(config: Config) -> Alert:
    # Two thirds of the max age (two intervals by default): one run has been missed and
    # there is still a run's worth of time to act before the figures are dropped.
    max_age = config.select(COLLECTOR_MAX_AGE.name)
    return Alert(
        "CapgoExporterDataAging",
        "warning",
        f"{_age(config)}\n> {_PER_COLLECTOR}\n{max_age} * 2 / 3\n",
        "capgo-exporter will soon drop a collector's figures.",
        "The {{ $labels.collector }} collector of " + _WHERE + " last succeeded "
        "{{ $value | humanizeDuration }} ago; its figures are dropped (and its "
        f"collector_up goes to 0) when they are {_max_age_text()} old.",
    )


def _api_alerts(config: Config) -> tuple[Alert, ...]:
    """Capgo keeps rate limiting the exporter, or failing its requests."""
    rate_limited = config.select("capgo_exporter_api_retries_total", 'reason="rate_limited"')
    return (
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
            "it: another client with the same key or address, or a budget set too high. "
            "capgo_up is 0 during each pause.",
            "30m",
        ),
        Alert(
            "CapgoApiErrors",
            "warning",
            f"{ERROR_RATIO} > {config.api_error_ratio:g}",
            "Many capgo-exporter requests to Capgo fail.",
            "{{ $value | humanizePercentage }} of the requests " + _WHERE + " sent to Capgo "
            "in the last 30 minutes failed with a 5xx status, a timeout or a connection "
            "error.",
            "15m",
        ),
        Alert(
            "CapgoApiCircuitOpen",
            "warning",
            f"{config.select(API_CIRCUIT_OPEN.name)} == 1",
            "capgo-exporter sees Capgo failing as a whole and only probes it.",
            "Every request " + _WHERE + " sent to Capgo for 10 minutes has failed (5xx, "
            "timeouts, no connection, unreadable answers): it sends nothing but a probe now "
            "and then (once per shortest collector interval), and resumes at once when one is "
            "answered. "
            "Last good figures are served until older than the exporter's max age.",
            "10m",
        ),
    )
