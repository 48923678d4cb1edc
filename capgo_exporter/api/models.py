"""Pydantic models of what Capgo returns.

Every model accepts unknown fields (Capgo adds columns often) and tolerates the older shapes of
Capgo's published API documentation: a device's bundle given as ``version: {id, name}`` instead of
``version_name``, ``disableAutoUpdate`` as a boolean, statistics dates as ``YYYY-MM-DD``.
Fields the exporter does not need stay optional so a null or a missing value never fails a poll.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)


def _as_utc(moment: datetime) -> datetime:
    # Capgo's timestamps are UTC; the older API docs' "YYYY-MM-DD" dates come without a zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


class CapgoModel(BaseModel):
    """Base: keep unknown fields, accept both field names and aliases."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Organization(CapgoModel):
    id: str
    name: str | None = None
    created_by: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    logo: str | None = None
    management_email: str | None = None
    customer_id: str | None = None
    website: str | None = None


class Member(CapgoModel):
    uid: str | None = None
    email: str
    image_url: str | None = None
    role: str
    # Pending invitations are listed with the members, flagged is_tmp.
    is_tmp: bool = False


class ApiKey(CapgoModel):
    """A key as Capgo lists it. ``key`` is present only at creation or regeneration."""

    id: int
    name: str | None = None
    user_id: str | None = None
    rbac_id: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    is_hashed_key: bool | None = None
    global_permissions: list[str] = Field(default_factory=list)
    mode: str | None = None  # legacy keys: read | upload | write | all
    key: SecretStr | None = None


class App(CapgoModel):
    app_id: str
    id: str | None = None  # the UUID, used in API-key bindings
    name: str | None = None
    owner_org: str | None = None
    icon_url: str | None = None
    last_version: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class BundleRef(CapgoModel):
    id: int | None = None
    name: str | None = None


class Channel(CapgoModel):
    id: int
    name: str
    app_id: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    created_by: str | None = None
    public: bool = False
    allow_device_self_set: bool | None = None
    allow_emulator: bool | None = None
    allow_device: bool | None = None
    allow_dev: bool | None = None
    allow_prod: bool | None = None
    version: BundleRef | None = None
    rollout_version_info: BundleRef | None = None
    disable_auto_update: str | None = Field(default=None, alias="disableAutoUpdate")
    disable_auto_update_under_native: bool | None = Field(
        default=None, alias="disableAutoUpdateUnderNative"
    )
    rollout_enabled: bool | None = Field(default=None, alias="rolloutEnabled")
    rollout_percentage_bps: int | None = Field(default=None, alias="rolloutPercentageBps")
    rollout_paused_at: Timestamp | None = Field(default=None, alias="rolloutPausedAt")
    rollout_pause_reason: str | None = Field(default=None, alias="rolloutPauseReason")

    @model_validator(mode="before")
    @classmethod
    def _older_shapes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        # Capgo's older published API docs gave disableAutoUpdate as a boolean; today it is a
        # policy name ("major", "minor", "patch", "version_number" or "none").
        flag = data.get("disableAutoUpdate")
        if isinstance(flag, bool):
            data["disableAutoUpdate"] = "major" if flag else "none"
        # Some older rows carried the bundle id alone.
        for name in ("version", "rollout_version_info"):
            if isinstance(data.get(name), int):
                data[name] = {"id": data[name]}
        return data

    @property
    def bundle_name(self) -> str | None:
        return self.version.name if self.version else None


class Bundle(CapgoModel):
    id: int
    name: str
    app_id: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    deleted: bool = False
    checksum: str | None = None
    external_url: str | None = None
    r2_path: str | None = None
    storage_provider: str | None = None
    min_update_version: str | None = Field(
        default=None, validation_alias=AliasChoices("min_update_version", "minUpdateVersion")
    )
    owner_org: str | None = None
    link: str | None = None
    comment: str | None = None


class Device(CapgoModel):
    device_id: str
    app_id: str | None = None
    updated_at: Timestamp | None = None
    custom_id: str | None = None
    is_prod: bool | None = None
    is_emulator: bool | None = None
    install_source: str | None = None
    version_name: str | None = None
    version: int | None = None  # bundle id, resolved from version_name; may be absent
    platform: str | None = None
    plugin_version: str | None = None
    os_version: str | None = None
    version_build: str | None = None
    key_id: str | None = None
    country_code: str | None = None
    # Present only when a forced channel override exists.
    channel: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_shapes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        version = data.get("version")
        if isinstance(version, dict):
            # Capgo's older published API docs gave a device's bundle as {id, name}.
            data = dict(data)
            data["version"] = version.get("id")
            data.setdefault("version_name", version.get("name"))
        elif isinstance(version, str):
            data = dict(data)
            data["version"] = int(version) if version.isdigit() else None
        return data


class StatsRow(CapgoModel):
    """One day of statistics. Cumulative from ``from`` unless asked per day."""

    date: Timestamp
    mau: int = 0
    storage: int = 0
    bandwidth: int = 0
    build_time_seconds: float = 0
    storage_byte_hours: float | None = None
    get: int | None = None  # update checks; sent to console (JWT) callers only

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_zero(cls, data: Any) -> Any:
        # A day without data may come back with nulls; it means nothing happened that day.
        if isinstance(data, dict):
            return {k: (0 if v is None and k in _COUNTERS else v) for k, v in data.items()}
        return data


_COUNTERS = frozenset({"mau", "storage", "bandwidth", "build_time_seconds"})


class AppStatsRow(StatsRow):
    app_id: str


class OrgStatsBreakdown(CapgoModel):
    global_: list[StatsRow] = Field(alias="global")
    by_app: list[AppStatsRow] = Field(default_factory=list, alias="byApp")


class UsageDataset(CapgoModel):
    label: str
    data: list[float] = Field(default_factory=list)
    meta_counts: list[int] = Field(default_factory=list, alias="metaCounts")


class LatestVersion(CapgoModel):
    name: str | None = None
    percentage: float | None = None


class PlatformCounts(CapgoModel):
    """Devices per platform, as newer Capgo counts them (``native_usage``'s ``activeDevices``)."""

    android: int = 0
    ios: int = 0
    electron: int = 0
    unknown: int = 0
    total: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_zero(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (0 if v is None and k != "total" else v) for k, v in data.items()}
        return data

    def by_platform(self) -> dict[str, int]:
        return {
            "android": self.android,
            "ios": self.ios,
            "electron": self.electron,
            "unknown": self.unknown,
        }


class UsageBreakdown(CapgoModel):
    """``bundle_usage`` and ``native_usage``: per-day percentages per bundle or native version.
    Newer Capgo adds, to ``native_usage`` only, its own count of active devices per platform
    over the range asked for (``activeDevices``; absent from older servers)."""

    labels: list[str] = Field(default_factory=list)
    datasets: list[UsageDataset] = Field(default_factory=list)
    latest_version: LatestVersion | None = Field(default=None, alias="latestVersion")
    active_devices: PlatformCounts | None = Field(default=None, alias="activeDevices")
    previous_period_active_devices: PlatformCounts | None = Field(
        default=None, alias="previousPeriodActiveDevices"
    )


class CurrentBundle(CapgoModel):
    """``GET /channel/current-bundle``: what a channel serves now (newer Capgo)."""

    bundle_name: str | None = None
    bundle_id: int | None = None
    min_update_version: str | None = None
    native_packages: list[Any] | None = None
    disable_auto_update: str | None = None


class StatusResponse(CapgoModel):
    """``{"status": "ok"}`` and its variants (``{status, id, public}``, ``{status, data}``)."""

    status: str = "ok"

    @model_validator(mode="before")
    @classmethod
    def _legacy_success(cls, data: Any) -> Any:
        # Capgo's older published API docs promised {"success": true} for DELETE /apikey;
        # the backend (public/apikey/delete.ts) answers {"status": "ok"}.
        if isinstance(data, dict) and "status" not in data and data.get("success") is True:
            return {**data, "status": "ok"}
        return data
