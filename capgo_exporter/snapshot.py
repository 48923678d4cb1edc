"""An immutable snapshot of everything collected, with its exposition rendered once.

The scheduler builds a new :class:`Snapshot` whenever a collector finishes (or a collector's
data passes ``max_age``) and swaps it in with one assignment; the HTTP server only reads
``holder.current``. Rendering — text format 0.0.4 and OpenMetrics, each plain and gzipped —
happens here, once per change, so a scrape costs the same whatever the number of series.

The bytes exclude ``# EOF``: the server appends the small live registry of self-metrics after
them and ends the OpenMetrics document itself.

Gzip is one stream, not two members back to back (httpx and older curl read only the first
member): the snapshot is compressed once up to a sync flush, and the compressor's state is
kept. Each scrape copies that state, feeds it the live part and finishes the stream — a copy
of a deflate state and a few kilobytes compressed, whatever the snapshot's size.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from capgo_exporter.catalogue import CATALOGUE
from capgo_exporter.collect.samples import Labels, Samples
from capgo_exporter.exposition import render_openmetrics, render_text
from capgo_exporter.metrics import MetricSpec

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


_GZIP = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream


class GzipPrefix:
    """A gzip stream compressed up to a sync flush, to be finished with more bytes later."""

    def __init__(self, data: bytes) -> None:
        self._state = zlib.compressobj(6, zlib.DEFLATED, _GZIP)
        self.head = self._state.compress(data) + self._state.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, tail: bytes) -> bytes:
        """The rest of the stream after ``head``: ``tail`` compressed, and the trailer."""
        state = self._state.copy()  # the kept state is never advanced: scrapes can run at once
        return state.compress(tail) + state.flush(zlib.Z_FINISH)


@dataclass(frozen=True)
class Snapshot:
    parts: Mapping[str, Part] = field(default_factory=dict)
    text: bytes = b""
    text_gzip: GzipPrefix = field(default_factory=lambda: GzipPrefix(b""))
    openmetrics: bytes = b""
    openmetrics_gzip: GzipPrefix = field(default_factory=lambda: GzipPrefix(b""))
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
            text_gzip=GzipPrefix(text),
            openmetrics=openmetrics,
            openmetrics_gzip=GzipPrefix(openmetrics),
            series=series,
        )


class SnapshotHolder:
    """The current snapshot. Reading and replacing one attribute is atomic in CPython."""

    def __init__(self) -> None:
        self.current = Snapshot()
