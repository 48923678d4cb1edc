"""What a collector run produces: values per metric and label set, checked against the catalogue.

A wrong number of label values would be silently truncated by client_python, and two samples
with the same labels would make an invalid exposition; both are refused here, at the source.
Label values lose their control and bidirectional-control characters here too (U+FFFD in
their place, `labels.printable`), whichever collector and API field they came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from capgo_exporter.collect.labels import printable
from capgo_exporter.metrics import MetricSpec

Labels = tuple[str, ...]
Samples = Mapping[MetricSpec, Mapping[Labels, float]]


class SampleSet:
    def __init__(self) -> None:
        self._data: dict[MetricSpec, dict[Labels, float]] = {}

    def set(self, spec: MetricSpec, value: float, *labels: str) -> None:
        """One sample; setting the same labels twice keeps the last value."""
        if len(labels) != len(spec.labels):
            raise ValueError(
                f"{spec.name} takes labels {spec.labels}, got {len(labels)} values: {labels}"
            )
        self._data.setdefault(spec, {})[tuple(map(printable, labels))] = float(value)

    def __len__(self) -> int:
        return sum(len(family) for family in self._data.values())

    def freeze(self) -> Samples:
        return MappingProxyType(
            {spec: MappingProxyType(dict(family)) for spec, family in self._data.items()}
        )


def merged(parts: Iterable[Samples]) -> Samples:
    """Sample sets that share no series (different apps, say) as one; a series in two parts
    keeps the later part's value."""
    families: dict[MetricSpec, dict[Labels, float]] = {}
    for part in parts:
        for spec, values in part.items():
            families.setdefault(spec, {}).update(values)
    return MappingProxyType({spec: MappingProxyType(v) for spec, v in families.items()})
