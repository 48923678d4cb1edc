"""The mutable rows of the simulated account (everything except devices and daily stats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class User:
    uid: str
    email: str


@dataclass
class Member:
    uid: str
    role: str
    is_tmp: bool  # a pending invitation


@dataclass
class Org:
    index: int
    id: str
    name: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    management_email: str
    website: str | None
    customer_id: str | None
    paying: bool
    members: list[Member] = field(default_factory=list)
    deleted: bool = False


@dataclass(frozen=True)
class Binding:
    """An RBAC role on an org (app_id None: every app of it) or on one app (apps.id UUID)."""

    role: str
    org_id: str
    app_id: str | None = None


@dataclass
class ApiKey:
    id: int
    name: str
    user_id: str
    rbac_id: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    # Exactly one of `key` (plain) and `key_hash` (sha256 hex, "secure" key) is set.
    key: str | None
    key_hash: str | None
    bindings: list[Binding]
    global_permissions: list[str]


@dataclass
class App:
    id: str  # UUID, what API-key bindings use
    app_id: str  # reverse-domain id, what every route uses
    name: str
    owner_org: str
    user_id: str
    created_at: datetime
    updated_at: datetime
    # Index of the app among all generated apps; feeds the device and stats hashes.
    salt: int
    retention: int = 2592000
    icon_url: str = ""
    expose_metadata: bool = False
    allow_device_custom_id: bool = True
    need_onboarding: bool = False
    existing_app: bool = True
    ios_store_url: str | None = None
    android_store_url: str | None = None
    default_upload_channel: str = "production"
    deleted: bool = False


@dataclass
class Bundle:
    id: int
    app_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    size: int
    checksum: str
    owner_org: str
    user_id: str
    external_url: str | None = None
    link: str | None = None
    comment: str | None = None
    deleted: bool = False
    deleted_at: datetime | None = None


@dataclass
class Channel:
    id: int
    app_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    created_by: str
    version: int | None  # bundle id
    public: bool
    allow_device_self_set: bool = False
    allow_emulator: bool = True
    allow_device: bool = True
    allow_dev: bool = True
    allow_prod: bool = True
    disable_auto_update: str = "major"
    disable_auto_update_under_native: bool = True
    rollout_version: int | None = None
    rollout_enabled: bool = False
    rollout_percentage_bps: int = 0
    rollout_paused_at: datetime | None = None
    rollout_pause_reason: str | None = None
    rollout_cache_ttl_seconds: int = 300
    # Capgo's rollout auto-pause: the policy (its database defaults) and the state its
    # check writes.
    auto_pause_enabled: bool = False
    auto_pause_failure_rate_bps: int | None = None
    auto_pause_confidence: float = 0.95
    auto_pause_window_minutes: int = 60
    auto_pause_min_attempts: int | None = None
    auto_pause_min_failures: int | None = None
    auto_pause_action: str = "pause"
    auto_pause_cooldown_minutes: int = 60
    auto_pause_last_triggered_at: datetime | None = None
    auto_pause_last_checked_at: datetime | None = None
