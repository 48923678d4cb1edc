"""The device store's column-at-a-time paths (numpy) give exactly what its per-device paths
give: rows, the ground truth's groups, the updated_at index. The per-device path is the
definition; these fail on any drift, the overlay (touched, added, overridden devices)
included."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pytest

from capgo_exporter.sim.device_columns import splitmix64_array
from capgo_exporter.sim.device_tables import AppView, FactGroup
from capgo_exporter.sim.devices import DeviceStore
from capgo_exporter.sim.hashing import splitmix64

BASE_MS = 1_764_936_000_000  # 2025-12-05T12:00:00Z
VIEW = AppView(
    app_id="com.example.app",
    bundle_ids={"1.4.0": 14, "1.3.0": 13, "1.0.0": 10, "builtin": 1},
    channels=frozenset({"beta", "qa"}),  # "gone" is forced on devices but no longer exists
)


def store(versions: list[str], forced: list[str], count: int = 10_000) -> DeviceStore:
    return DeviceStore(
        seed=7,
        salt=11,
        base_count=count,
        base_ms=BASE_MS,
        version_names=versions,
        forced_channels=forced,
    )


STORES = {
    "bundles and forced channels": lambda: store(["1.4.0", "1.3.0", "1.2.0"], ["beta", "gone"]),
    "no bundle, no forced channel": lambda: store([], []),
    "one bundle named like a native version": lambda: store(["1.1.0"], ["qa"]),
}


def with_overlay(devices: DeviceStore) -> DeviceStore:
    devices.touch(500, BASE_MS + 5_000, ["1.4.0", "1.3.0", "1.2.0"])
    devices.add(40, BASE_MS + 9_000)
    for index in (3, 77, 6_789, devices.count - 1):
        devices.set_override(index, "qa")
    devices.set_override(5, None)  # an override back to the default channel
    return devices


@pytest.fixture(params=[(name, overlay) for name in STORES for overlay in (False, True)])
def devices(request: pytest.FixtureRequest) -> DeviceStore:
    name, overlay = request.param
    made = STORES[name]()
    return with_overlay(made) if overlay else made


def test_splitmix64_on_arrays_is_splitmix64() -> None:
    draw = random.Random(1)
    values = [0, 1, 2**63, 2**64 - 1, *(draw.getrandbits(64) for _ in range(200))]
    got = splitmix64_array(np.array(values, dtype=np.uint64)).tolist()
    assert got == [splitmix64(v) for v in values]


def first_difference(got: list[Any], want: list[Any]) -> tuple[int, Any, Any] | None:
    """Where two long lists first differ (pytest would print all of both: minutes)."""
    if len(got) != len(want):
        return -1, len(got), len(want)
    return next(((i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w), None)


def test_rows_drawn_at_once_are_the_rows_drawn_one_by_one(devices: DeviceStore) -> None:
    in_order = list(range(devices.count))
    shuffled = random.Random(2).sample(in_order, 3_000)
    for indices in (in_order, shuffled, [devices.count - 1], []):
        one_by_one = [devices.record(i, VIEW) for i in indices]
        assert first_difference(devices.records(indices, VIEW), one_by_one) is None


def test_fact_groups_count_every_device_as_its_facts_say(devices: DeviceStore) -> None:
    thresholds = [BASE_MS - 86_400_000, BASE_MS - 7 * 86_400_000, BASE_MS + 6_000]
    expected = Counter(
        FactGroup.of(devices.facts(index), thresholds) for index in range(devices.count)
    )
    assert devices.fact_groups(thresholds) == expected
    assert sum(expected.values()) == devices.count


def test_the_updated_at_index_is_every_device_sorted(devices: DeviceStore) -> None:
    updated = [devices.facts(i).updated_ms for i in range(devices.count)]
    assert first_difference(list(devices._updated_ms()), updated) is None
    keys = sorted((ms << 24) | i for i, ms in enumerate(updated))
    assert first_difference(devices._sorted_keys(), keys) is None
