"""The rules as data (Alert, Record) and the YAML they are written as: a Prometheus rule file,
and the same groups as a prometheus-operator PrometheusRule. Multi-line expressions are literal
blocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

Doc = dict[str, Any]
Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Alert:
    name: str
    severity: Severity
    expr: str
    summary: str
    description: str
    for_: str | None = None
    # Beyond severity; needed where one alert has several rules, which promtool requires to
    # differ in their labels.
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    name: str
    expr: str


def prometheus_rule(groups: list[Doc]) -> Doc:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "capgo-exporter",
            # The labels of the other manifests in deploy/kubernetes.
            "labels": {
                "app.kubernetes.io/name": "capgo-exporter",
                "app.kubernetes.io/instance": "capgo-exporter",
                "app.kubernetes.io/component": "exporter",
            },
        },
        "spec": {"groups": groups},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions as literal blocks, which read like the PromQL they are."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(doc: Doc) -> str:
    # No folding: a long expression or description stays on one line, as written.
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)
