"""The catalogue: the names the design fixes, Prometheus naming rules, and docs in sync."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from capgo_exporter import docsgen, metrics
from capgo_exporter.catalogue import CATALOGUE
from capgo_exporter.metrics import MetricSet, MetricSpec, cached_help
from capgo_exporter.settings import SETTINGS

# The names fixed from the first release; dashboards, alerts and users rely on them.
DESIGN_NAMES = {
    "capgo_org_info", "capgo_org_monthly_active_users", "capgo_org_storage_bytes",
    "capgo_org_bandwidth_bytes", "capgo_org_build_time_seconds",
    "capgo_org_billing_cycle_start_timestamp_seconds", "capgo_org_monthly_active_users_limit",
    "capgo_org_storage_limit_bytes", "capgo_org_bandwidth_limit_bytes", "capgo_org_members",
    "capgo_org_pending_invitations", "capgo_app_info", "capgo_app_monthly_active_users",
    "capgo_app_storage_bytes", "capgo_app_bandwidth_bytes", "capgo_app_bundles",
    "capgo_app_latest_bundle_created_timestamp_seconds", "capgo_bundle_created_timestamp_seconds",
    "capgo_app_bundle_usage_ratio", "capgo_app_devices", "capgo_app_devices_by_native_version",
    "capgo_app_devices_by_plugin_version", "capgo_app_devices_on_builtin",
    "capgo_app_devices_seen_1d", "capgo_app_devices_seen_7d", "capgo_app_devices_seen_30d",
    "capgo_app_devices_channel_override", "capgo_channel_info",
    "capgo_channel_updated_timestamp_seconds", "capgo_channel_rollout_ratio",
    "capgo_channel_rollout_paused", "capgo_channel_bundle_adoption_ratio",
    "capgo_apikey_expiry_timestamp_seconds", "capgo_up", "capgo_exporter_collector_up",
    "capgo_exporter_collector_last_success_timestamp_seconds",
    "capgo_exporter_collector_duration_seconds", "capgo_exporter_collector_max_age_seconds",
    "capgo_exporter_api_requests_total",
    "capgo_exporter_api_request_duration_seconds", "capgo_exporter_api_retries_total",
    "capgo_exporter_devices_tracked", "capgo_exporter_build_info",
}  # fmt: skip

DESIGN_LABELS = {
    "capgo_app_devices": ("app_id", "platform", "bundle", "is_prod", "is_emulator"),
    "capgo_channel_info": (
        "app_id", "channel", "bundle", "public", "allow_dev", "allow_emulator", "allow_prod",
        "allow_device_self_set", "disable_auto_update",
    ),
    "capgo_exporter_api_requests_total": ("endpoint", "code"),
    "capgo_app_info": ("org_id", "app_id", "app_name"),
}  # fmt: skip


def test_every_design_name_is_in_the_catalogue_once() -> None:
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))
    assert set(names) >= DESIGN_NAMES


@pytest.mark.parametrize("name", sorted(DESIGN_LABELS))
def test_design_label_sets(name: str) -> None:
    spec = next(s for s in CATALOGUE if s.name == name)
    assert spec.labels == DESIGN_LABELS[name]


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_prometheus_naming_rules(spec: MetricSpec) -> None:
    assert re.fullmatch(r"capgo_[a-z0-9_]+", spec.name)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", label) for label in spec.labels)
    assert (spec.type == "counter") == spec.name.endswith("_total")
    if "timestamp" in spec.name or spec.name.endswith("_duration_seconds"):
        assert spec.name.endswith("_seconds")
    assert not any(label in {"device_id", "email", "date"} for label in spec.labels)
    assert spec.help.endswith(".")


@pytest.mark.parametrize("name", sorted(docsgen.GENERATED))
def test_generated_docs_are_up_to_date(name: str) -> None:
    assert (docsgen.DOCS / name).read_text() == docsgen.GENERATED[name](), (
        f"docs/{name} is stale: run python -m capgo_exporter.docsgen"
    )


def test_every_setting_is_documented() -> None:
    text = docsgen.render_configuration()
    for setting in SETTINGS.values():
        assert setting.help.endswith("."), setting.flag
        assert text.count(f"| `{setting.flag}` | `{setting.env_name}`") == 1, setting.flag


def test_the_caching_note_is_written_in_one_place() -> None:
    """Each help text says it is served from the cache through `cached_help` alone."""
    note = cached_help("", "devices").split("devices")[0].strip()
    sources = Path(metrics.__file__).parent.rglob("*.py")
    assert [p.name for p in sources if note in p.read_text(encoding="utf-8")] == ["metrics.py"]
    for spec in CATALOGUE:
        if note in spec.help:
            assert spec.collector is not None
            assert spec.help.endswith(cached_help("", spec.collector))


def test_a_collector_fills_gauges_only() -> None:
    with pytest.raises(ValueError, match="only be gauges"):
        MetricSet("devices").counter("capgo_x_total", "Nothing.")
