"""The dashboards' shared vocabulary: configuration, variables' matchers and PromQL helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from capgo_exporter.mixin.config import Config as RulesConfig
from capgo_exporter.mixin.dashboards.schema import DataSourceRef

DATASOURCE: Final[DataSourceRef] = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION: Final = 39
TAGS: Final = ["capgo"]
GRID_WIDTH: Final = 24

# Every selector carries these two matchers; the others add org or app.
BASE_MATCHERS: Final = ('job=~"$job"', 'instance=~"$instance"')
ORG: Final = 'org_id=~"$org"'
APP: Final = 'app_id=~"$app"'
RATE: Final = "$__rate_interval"

# Values that make every query of these dashboards valid PromQL matching every series: what a
# test or a script puts in place of the dashboard variables (see substitute()).
WILDCARDS: Final[Mapping[str, str]] = {
    "job": ".*",
    "instance": ".*",
    "org": ".*",
    "app": ".*",
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
}


@dataclass(frozen=True)
class Config:
    """What a user may change when rendering their own dashboards."""

    # Usage against a plan limit turns orange, then red, at these ratios (the alerts' thresholds).
    usage_warning: float = RulesConfig.usage_warning
    usage_critical: float = RulesConfig.usage_critical
    refresh: str = "1m"


# --- queries --------------------------------------------------------------------------------


def sel(metric: str, *matchers: str) -> str:
    """``metric{job=~"$job",instance=~"$instance",…}``."""
    return f"{metric}{{{','.join((*BASE_MATCHERS, *matchers))}}}"


def with_info(expr: str, info: str, on: str, labels: str, *matchers: str) -> str:
    """``expr`` with ``labels`` copied from the info metric (value 1), joined on ``on``.

    Also filters: series whose info is not selected by ``matchers`` drop out.
    """
    return f"{expr} * on (job, instance, {on}) group_left ({labels}) {sel(info, *matchers)}"


def with_org_name(expr: str) -> str:
    return with_info(expr, "capgo_org_info", "org_id", "org_name", ORG)


def with_app_name(expr: str) -> str:
    return with_info(expr, "capgo_app_info", "app_id", "app_name, org_id", ORG)


def app_total(metric: str) -> str:
    """``metric`` summed over the selected app's series."""
    return f"sum({sel(metric, APP)})"


def rate(metric: str, *matchers: str) -> str:
    return f"rate({sel(metric, *matchers)}[{RATE}])"


def without(labels: str, expr: str) -> str:
    """``expr`` without ``labels`` nor its metric name, other labels kept.

    Table rows merge on identical label sets: ``without`` keeps the labels service discovery
    adds (namespace, pod…) where ``by`` would drop them from some queries and not others.
    """
    return f"max without ({labels}) ({expr})"


def ms(expr: str) -> str:
    """A timestamp in seconds as milliseconds, what Grafana's date units expect."""
    return f"{expr} * 1000"


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = "__auto"
    # Tables, bar gauges and pie charts show the current value: an instant query is cheaper.
    instant: bool = False
