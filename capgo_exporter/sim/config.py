"""Simulator configuration: the world's shape (fixed at start) and the run-time knobs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields, replace
from typing import Any

MALFORMED_KINDS = ("mixed", "truncated", "not_json")


@dataclass(frozen=True)
class Knobs:
    """Behaviour that tests and the /_sim/config route change while the simulator runs."""

    latency_ms: float = 0.0
    rate_limit_per_min: int = 0  # token bucket per key; 0 = off
    rate_limit_burst: int = 0  # the bucket's capacity; 0 = a minute's worth
    fail_rate: float = 0.0  # 500/502/503
    timeout_rate: float = 0.0  # hang for hang_seconds, then 504
    malformed_rate: float = 0.0  # 200 with truncated JSON or an HTML page
    malformed_kind: str = "mixed"  # which of the two: "truncated", "not_json" or "mixed"
    missing_fields_rate: float = 0.0  # per row: one optional field removed or nulled
    extra_fields_rate: float = 0.0  # per row: an unknown field added
    hang_seconds: float = 60.0

    def validated(self) -> Knobs:
        for name in (
            "fail_rate",
            "timeout_rate",
            "malformed_rate",
            "missing_fields_rate",
            "extra_fields_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value}")
        if self.malformed_kind not in MALFORMED_KINDS:
            raise ValueError(
                f"malformed_kind must be one of {', '.join(MALFORMED_KINDS)}, "
                f"got {self.malformed_kind!r}"
            )
        if (
            min(self.latency_ms, self.rate_limit_per_min, self.rate_limit_burst, self.hang_seconds)
            < 0
        ):
            raise ValueError(
                "latency_ms, rate_limit_per_min, rate_limit_burst and hang_seconds must be >= 0"
            )
        return self


@dataclass(frozen=True)
class SimConfig:
    """What the generated account looks like. Everything is derived from `seed`."""

    seed: int = 1
    orgs: int = 2
    apps_per_org: int = 3
    devices_per_app: int = 1000
    bundles_per_app: int = 12
    channels_per_app: int = 3
    members_per_org: int = 4
    # API key value -> RBAC role. Keys are opaque strings (real keys are UUIDs).
    keys: dict[str, str] = field(default_factory=lambda: {"demo": "org_super_admin"})
    # API key value -> org indexes the key is bound to; keys not listed get every org.
    key_orgs: dict[str, frozenset[int]] = field(default_factory=dict)
    # Org indexes whose statistics answer 402 subscription_required to API keys.
    unpaid_orgs: frozenset[int] = frozenset()
    # GET /device answers the pre-2025-12 shape: a bare array, 50 per `page`.
    legacy_device_paging: bool = False
    # Capgo as developed after 4bc7d83f, in the Cap-go/capgo.app repository: GET /bundle
    # answers 200 [] past the last page (not 400 cannot_get_bundle), native_usage adds
    # activeDevices per platform, GET /device filters by custom_id, GET /channel/current-bundle
    # exists (404 otherwise), channel objects carry updatePackage.
    newer_capgo: bool = False
    # Rows GET /device fetches at most (it fetches limit + 1 to compute hasMore), capped
    # silently as Capgo's storages do: 50,001 on Cloudflare Analytics Engine (production;
    # MAX_ANALYTICS_QUERY_LIMIT in _backend/utils/cloudflare.ts), 1,000 on the Supabase path
    # (PostgREST max_rows); 0 = no cap.
    device_row_cap: int = 50_001
    # Indexes of generated apps (creation order) whose newest bundle is a bad release: its
    # devices report crashes and failed updates far above the healthy rate (--demo: the first).
    bad_release_apps: frozenset[int] = frozenset()
    knobs: Knobs = field(default_factory=Knobs)


class KnobBox:
    """Thread-safe holder of the current Knobs; readers get an immutable snapshot."""

    def __init__(self, knobs: Knobs) -> None:
        self._lock = threading.Lock()
        self._knobs = knobs.validated()

    def get(self) -> Knobs:
        with self._lock:
            return self._knobs

    def update(self, **changes: Any) -> Knobs:
        unknown = set(changes) - {f.name for f in fields(Knobs)}
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(sorted(unknown))}")
        with self._lock:
            self._knobs = replace(self._knobs, **changes).validated()
            return self._knobs
