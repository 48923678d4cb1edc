"""Every metric the exporter serves, in one table: each collector's, as its module declares
them (in the registry's order), then the exporter's own (``selfmetrics.py``).

The snapshot renders the collectors' samples in this order; ``docs/metrics.md`` (and the
landing page's copy of it), the mixin's checks and the tests read it.
"""

from __future__ import annotations

from typing import Final

from capgo_exporter import selfmetrics
from capgo_exporter.collect.registry import metrics_of
from capgo_exporter.collectors import COLLECTORS, CollectorName
from capgo_exporter.metrics import MetricSpec

CATALOGUE: Final[tuple[MetricSpec, ...]] = (
    *(spec for name in COLLECTORS for spec in metrics_of(name)),
    *selfmetrics.METRICS.specs,
)


def specs_of(collector: CollectorName | None) -> tuple[MetricSpec, ...]:
    """A collector's metrics; None: the exporter's own."""
    return tuple(spec for spec in CATALOGUE if spec.collector == collector)
