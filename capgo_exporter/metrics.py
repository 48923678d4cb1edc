"""How a metric is declared: its name, type, help text and labels, and who fills it.

Every module that fills metrics declares them beside the code that does, as one `MetricSet`
named ``METRICS``: each collector's module under ``collect/`` its own, ``selfmetrics.py`` the
exporter's. ``catalogue.py`` assembles them (through the collector registry) into the one table
the exposition, the docs (``docs/metrics.md``) and the tests read.

Names are fixed: dashboards, alerts and users rely on them. Add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from capgo_exporter.collectors import CollectorName

MetricType = Literal["gauge", "counter", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    type: MetricType = "gauge"
    # The collector whose poll produces it; None for the exporter's own live metrics.
    collector: CollectorName | None = None


def cached_help(help_text: str, collector: CollectorName) -> str:
    """The help of a figure served from the cache a collector's background polls refresh
    (never fetched during a scrape): it says so, and names the collector."""
    return f"{help_text} Cached; refreshed by the {collector} collector."


class MetricSet:
    """The metrics one module fills, in the order it declares them.

    A collector's metrics are gauges (the snapshot renders gauges); the exporter's own
    (``collector`` None) are live, of any type.
    """

    def __init__(self, collector: CollectorName | None = None) -> None:
        self.collector = collector
        self._specs: list[MetricSpec] = []

    @property
    def specs(self) -> tuple[MetricSpec, ...]:
        return tuple(self._specs)

    def gauge(self, name: str, help_text: str, *labels: str, cached: bool = True) -> MetricSpec:
        """``help_text`` names the Capgo API field the figure comes from. A collector's gauge
        is served from its cache, which the help then says, unless ``cached`` is False (a
        figure of the configuration or the calendar, or one about the exporter itself)."""
        if cached and self.collector is not None:
            help_text = cached_help(help_text, self.collector)
        return self._add(MetricSpec(name, help_text, labels, "gauge", self.collector))

    def counter(self, name: str, help_text: str, *labels: str) -> MetricSpec:
        return self._add(MetricSpec(name, help_text, labels, "counter", self.collector))

    def histogram(self, name: str, help_text: str, *labels: str) -> MetricSpec:
        return self._add(MetricSpec(name, help_text, labels, "histogram", self.collector))

    def _add(self, spec: MetricSpec) -> MetricSpec:
        if spec.type != "gauge" and spec.collector is not None:
            raise ValueError(f"the {spec.collector} collector's metrics can only be gauges")
        self._specs.append(spec)
        return spec
