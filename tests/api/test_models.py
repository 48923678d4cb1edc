"""Models accept today's shapes, the older documented ones, unknown fields and nulls."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from capgo_exporter.api.device_rows import DevicePage, decode_device_page
from capgo_exporter.api.models import (
    ApiKey,
    Bundle,
    Channel,
    Device,
    Member,
    Organization,
    StatsRow,
    StatusResponse,
    UsageBreakdown,
)

from .conftest import fixture


def test_device_page() -> None:
    """The walk decodes pages with msgspec; `device get` reads one device with the model."""
    page = decode_device_page(json.dumps(fixture("device_page.json")).encode())
    assert isinstance(page, DevicePage)
    assert page.has_more
    assert page.next_cursor == "2026-11-20 10:11:12|0000002a-aaaa-4bbb-8ccc-000000000001"
    device = Device.model_validate(fixture("device_page.json")["data"][0])
    assert device.version_name == "1.4.0"
    assert device.channel == "beta"
    assert device.updated_at == datetime(2026, 11, 20, 10, 11, 12, 345000, tzinfo=UTC)
    assert device.model_extra == {"some_future_field": {"x": 1}}


def test_legacy_device_with_version_object() -> None:
    device = Device.model_validate(fixture("device_legacy_shape.json"))
    assert (device.version, device.version_name) == (7, "1.0.2")
    assert device.updated_at == datetime(2024, 3, 2, tzinfo=UTC)
    assert device.channel is None


def test_device_with_nulls_and_missing_fields() -> None:
    device = Device.model_validate({"device_id": "d", "platform": None, "is_prod": None})
    assert device.platform is None
    assert device.version_name is None


def test_device_without_id_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Device.model_validate({"platform": "ios"})


def test_channel_today() -> None:
    channel = Channel.model_validate(fixture("channel.json"))
    assert channel.bundle_name == "1.4.0"
    assert channel.rollout_enabled
    assert channel.rollout_percentage_bps == 2500
    assert channel.rollout_version_info is not None
    assert channel.rollout_version_info.name == "1.5.0"
    assert channel.disable_auto_update == "major"
    assert channel.allow_prod is True


def test_channel_legacy_boolean_auto_update() -> None:
    channel = Channel.model_validate(fixture("channel_legacy_shape.json"))
    assert channel.disable_auto_update == "major"
    assert channel.rollout_enabled is None
    assert channel.allow_prod is None


def test_bundle() -> None:
    bundle = Bundle.model_validate(fixture("bundle.json"))
    assert (bundle.id, bundle.name, bundle.deleted) == (812, "1.4.0", False)
    assert (
        Bundle.model_validate(
            {"id": 1, "name": "1.0.0", "minUpdateVersion": "0.9.0"}
        ).min_update_version
        == "0.9.0"
    )


def test_stats_rows_today_and_legacy() -> None:
    rows = [StatsRow.model_validate(r) for r in fixture("stats_rows.json")]
    assert rows[-1].mau == 25
    assert rows[-1].build_time_seconds == 120
    old = StatsRow.model_validate(fixture("stats_legacy_shape.json")[0])
    assert old.date == datetime(2023, 6, 1, tzinfo=UTC)
    assert old.bandwidth == 0  # null means nothing that day


def test_usage_breakdown() -> None:
    usage = UsageBreakdown.model_validate(fixture("native_usage.json"))
    assert usage.latest_version is not None
    assert usage.latest_version.percentage == 62.5
    assert usage.datasets[0].meta_counts == [5]


def test_api_key_never_shows_its_secret() -> None:
    created = ApiKey.model_validate(fixture("apikey_legacy_shape.json")["apikey"])
    assert created.key is not None
    assert "0b7e4f3a" not in repr(created)
    assert "0b7e4f3a" not in str(created)
    assert created.key.get_secret_value().startswith("0b7e4f3a")
    assert created.mode == "all"


def test_org_and_members() -> None:
    org = Organization.model_validate(fixture("organization.json"))
    assert org.name == "Acme"
    members = [Member.model_validate(m) for m in fixture("member.json")]
    assert [m.is_tmp for m in members] == [False, True]


def test_status_variants() -> None:
    assert StatusResponse.model_validate({"success": True}).status == "ok"
    answer = StatusResponse.model_validate({"status": "ok", "id": 3, "public": True})
    assert answer.model_extra == {"id": 3, "public": True}
