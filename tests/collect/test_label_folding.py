"""Native builds and plugin versions fold into "other" past a top-N, as bundles do."""

from __future__ import annotations

from collections import Counter

import pytest

from capgo_exporter.collect.devices.aggregates import OTHER, AppDevices, fold_rare
from capgo_exporter.collect.devices.collector import (
    APP_DEVICES_BY_NATIVE,
    APP_DEVICES_BY_PLUGIN,
    DevicesCollector,
)
from capgo_exporter.collect.devices.index import DeviceIndex
from capgo_exporter.settings import SettingsError
from tests.collect.conftest import make_settings
from tests.collect.test_devices_collector import PAGE, Fleet


def test_fold_rare_keeps_the_most_common_and_sums_the_rest() -> None:
    counts = {"a": 5, "b": 1, "c": 3, "d": 1}
    assert fold_rare(counts, 2, lambda k: k, lambda k: OTHER) == {"a": 5, "c": 3, OTHER: 2}
    # Ties go by name, so the kept set does not change from one run to the next.
    assert fold_rare({"y": 1, "x": 1}, 1, lambda k: k, lambda k: OTHER) == {"x": 1, OTHER: 1}
    assert fold_rare(counts, 10, lambda k: k, lambda k: OTHER) == counts


def test_native_versions_fold_per_platform_within_the_bound() -> None:
    app = AppDevices(
        by_native={
            ("ios", "100"): 50, ("ios", "99"): 2, ("ios", "98"): 1,
            ("android", "40"): 30, ("android", "39"): 3, ("android", "1"): 1,
        }
    )  # fmt: skip
    folded = app.folded_by_native(2)
    assert folded == {("ios", "100"): 50, ("android", "40"): 30, ("ios", OTHER): 3,
                      ("android", OTHER): 4}  # fmt: skip
    assert sum(folded.values()) == sum(app.by_native.values())
    assert len(folded) <= 2 + len({p for p, _ in app.by_native})


@pytest.mark.parametrize(("native_top", "plugin_top"), [(1, 2), (2, 1)])
async def test_the_collector_serves_at_most_top_n_plus_other(
    native_top: int, plugin_top: int
) -> None:
    settings = make_settings(
        device_page_size=PAGE,
        native_versions_per_app=native_top,
        plugin_versions_per_app=plugin_top,
    )
    fleet = Fleet(settings)
    truth = fleet.sim.truth()
    collector = DevicesCollector(settings, DeviceIndex())
    try:
        samples = await fleet.collect(collector)
    finally:
        collector.close()
    for app_id in fleet.apps:
        expected = truth.app(app_id)
        native = {k[1:]: v for k, v in samples[APP_DEVICES_BY_NATIVE].items() if k[0] == app_id}
        plugin = {k[1]: v for k, v in samples[APP_DEVICES_BY_PLUGIN].items() if k[0] == app_id}
        platforms = {platform for platform, _ in expected.devices_by_native}
        # The simulator has more builds and plugin versions than the top-N: folding happens.
        assert len(expected.devices_by_plugin) > plugin_top
        assert OTHER in plugin
        assert len(plugin) == plugin_top + 1
        assert len(native) <= native_top + len(platforms)
        assert any(version == OTHER for _, version in native)
        # Nothing is lost: the folded series add up to the same devices.
        assert sum(plugin.values()) == sum(expected.devices_by_plugin.values())
        per_platform: Counter[str] = Counter()
        for (platform, _), n in native.items():
            per_platform[platform] += int(n)
        assert per_platform == Counter(
            {p: sum(n for (q, _), n in expected.devices_by_native.items() if q == p)
             for p in platforms}
        )  # fmt: skip


def test_the_top_n_is_at_least_one() -> None:
    with pytest.raises(SettingsError, match="max-native-versions-per-app"):
        make_settings(native_versions_per_app=0)
