"""An immutable snapshot of everything collected, with its exposition rendered once.

The scheduler builds a new :class:`Snapshot` whenever a collector finishes (or a collector's
data passes ``max_age``) and swaps it in with one assignment; the HTTP server only reads
``holder.current``. Rendering — text format 0.0.4 and OpenMetrics, each plain and gzipped —
happens here, once per change, so a scrape costs the same whatever the number of series.

The bytes exclude ``# EOF``: the server appends the small live registry of self-metrics after
them and ends the OpenMetrics document itself. Gzip output is a complete gzip member; the
server appends a second member for the live part, which every gzip reader (Go's included)
decompresses as one stream.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from capgo_exporter.collect.samples import Labels, Samples
from capgo_exporter.exposition import render_openmetrics, render_text
from capgo_exporter.metrics import CATALOGUE, MetricSpec

_EOF = b"# EOF\n"


@dataclass(frozen=True)
class Part:
    """One collector's last good samples, and when they were collected (Unix time)."""

    samples: Samples
    collected_at: float


class _SamplesCollector:
    """Adapts parts to client_python's collector protocol, in catalogue order."""

    def __init__(self, parts: Mapping[str, Part]) -> None:
        self._parts = parts

    def owned(self) -> Iterator[tuple[MetricSpec, Mapping[Labels, float]]]:
        """Each metric from the collector the catalogue says produces it, and no other."""
        for spec in CATALOGUE:
            if spec.collector is None or spec.collector not in self._parts:
                continue
            values = self._parts[spec.collector].samples.get(spec)
            if values:
                yield spec, values

    def collect(self) -> Iterator[Metric]:
        for spec, values in self.owned():
            family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
            for labels, value in values.items():
                family.add_metric(labels, value)
            yield family


@dataclass(frozen=True)
class Snapshot:
    parts: Mapping[str, Part] = field(default_factory=dict)
    text: bytes = b""
    text_gzip: bytes = b""
    openmetrics: bytes = b""
    openmetrics_gzip: bytes = b""
    series: int = 0

    @classmethod
    def render(cls, parts: Mapping[str, Part]) -> Snapshot:
        frozen = MappingProxyType(dict(parts))
        source = _SamplesCollector(frozen)
        text = render_text(source)
        openmetrics = render_openmetrics(source)
        openmetrics = openmetrics.removesuffix(_EOF)
        series = sum(len(values) for _, values in source.owned())
        return cls(
            parts=frozen,
            text=text,
            text_gzip=gzip.compress(text, compresslevel=6) if text else b"",
            openmetrics=openmetrics,
            openmetrics_gzip=gzip.compress(openmetrics, compresslevel=6) if openmetrics else b"",
            series=series,
        )


class SnapshotHolder:
    """The current snapshot. Reading and replacing one attribute is atomic in CPython."""

    def __init__(self) -> None:
        self.current = Snapshot()
