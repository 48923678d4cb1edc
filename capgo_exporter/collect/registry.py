"""The collectors the registry (``capgo_exporter.collectors``) names, loaded and built.

Each collector is one module under ``capgo_exporter.collect`` (its `CollectorSpec` names it)
that provides what `CollectorModule` lists. The modules are imported by name, here only: the
registry itself stays data that settings and the docs can read without loading collectors.
"""

from __future__ import annotations

import importlib
from datetime import date
from typing import Protocol, cast

from capgo_exporter.api import CapgoClient
from capgo_exporter.api.models import App, Organization
from capgo_exporter.collect.base import Collector, Probe
from capgo_exporter.collectors import REGISTRY, spec_of
from capgo_exporter.metrics import MetricSet, MetricSpec
from capgo_exporter.settings import Settings


class CollectorModule(Protocol):
    """What a collector's module provides: the metrics it fills, declared beside the code
    that fills them; how to build the collector; what ``check`` sends for it."""

    METRICS: MetricSet

    def build(self, settings: Settings) -> Collector: ...

    def probes(
        self, client: CapgoClient, org: Organization | None, app: App | None, today: date
    ) -> list[Probe]: ...


def load(name: str) -> CollectorModule:
    """The module of collector ``name``; KeyError for an unknown collector."""
    module = importlib.import_module(f"{__package__}.{spec_of(name).module}")
    return cast(CollectorModule, module)


def metrics_of(name: str) -> tuple[MetricSpec, ...]:
    """The metrics collector ``name`` fills, in the order its module declares them."""
    metrics = load(name).METRICS
    if metrics.collector != name:
        raise ValueError(f"collect.{spec_of(name).module} declares metrics of {metrics.collector}")
    return metrics.specs


def build_collectors(settings: Settings) -> list[Collector]:
    """The enabled collectors, in the registry's order."""
    return [load(name).build(settings) for name in settings.collectors]


def all_probes(
    client: CapgoClient, org: Organization | None, app: App | None, today: date
) -> list[Probe]:
    """Each collector's own probes (declared by its module), in the registry's order."""
    return [probe for name in REGISTRY for probe in load(name).probes(client, org, app, today)]
