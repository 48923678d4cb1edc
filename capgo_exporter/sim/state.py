"""The mutable world: every row of the simulated account, behind one lock."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from capgo_exporter.sim.config import SimConfig
from capgo_exporter.sim.device_tables import AppView
from capgo_exporter.sim.devices import DeviceStore
from capgo_exporter.sim.events import EventLog
from capgo_exporter.sim.model import ApiKey, App, Bundle, Channel, Org, User
from capgo_exporter.sim.raw_events import RawEventLog
from capgo_exporter.sim.stats import AppSeries
from capgo_exporter.sim.timeutil import Clock

# Rows every Capgo app has; they are not uploads and never count as "latest".
RESERVED_BUNDLES = frozenset({"builtin", "unknown"})


@dataclass
class World:
    config: SimConfig
    clock: Clock
    orgs: list[Org] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)  # by email
    keys: list[ApiKey] = field(default_factory=list)
    apps: list[App] = field(default_factory=list)  # deleted apps stay (their stats count)
    bundles: dict[str, list[Bundle]] = field(default_factory=dict)  # by app_id, creation order
    channels: dict[str, list[Channel]] = field(default_factory=dict)  # by app_id, creation order
    devices: dict[str, DeviceStore] = field(default_factory=dict)
    series: dict[str, AppSeries] = field(default_factory=dict)
    events: dict[str, EventLog] = field(default_factory=dict)
    raw_events: dict[str, RawEventLog] = field(default_factory=dict)  # POST /private/stats
    # When Capgo's rollout auto-pause check runs next (sim/autopause.py); None: not yet.
    auto_pause_next_check: datetime | None = None
    account_uid: str = ""
    next_id: int = 1000
    # Every handler runs under this lock: the simulator is about shapes, not write throughput.
    lock: threading.RLock = field(default_factory=threading.RLock)
    rng: random.Random = field(default_factory=random.Random)

    def now(self) -> datetime:
        return self.clock()

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def delete_app(self, app: App) -> None:
        """Apps are soft-deleted: their past statistics still count for the org."""
        now = self.now()
        app.deleted = True
        for bundle in self.bundles.get(app.app_id, []):
            if not bundle.deleted:
                bundle.deleted, bundle.deleted_at = True, now

    # -- lookups --------------------------------------------------------------------------

    def org(self, org_id: str) -> Org | None:
        return next((o for o in self.orgs if o.id == org_id and not o.deleted), None)

    def live_orgs(self) -> list[Org]:
        return [o for o in self.orgs if not o.deleted]

    def app(self, app_id: str) -> App | None:
        return next((a for a in self.apps if a.app_id == app_id and not a.deleted), None)

    def live_apps(self, org_id: str | None = None) -> list[App]:
        return [a for a in self.apps if not a.deleted and (org_id is None or a.owner_org == org_id)]

    def live_bundles(self, app_id: str) -> list[Bundle]:
        """Not deleted, newest first (GET /bundle order)."""
        rows = [b for b in self.bundles.get(app_id, []) if not b.deleted]
        return sorted(rows, key=lambda b: (b.created_at, b.id), reverse=True)

    def bundle_by_id(self, app_id: str, bundle_id: object) -> Bundle | None:
        return next((b for b in self.bundles.get(app_id, []) if b.id == bundle_id), None)

    def bundle_by_name(self, app_id: str, name: str) -> Bundle | None:
        return next((b for b in self.live_bundles(app_id) if b.name == name), None)

    def channel(self, app_id: str, name: str) -> Channel | None:
        return next((c for c in self.channels.get(app_id, []) if c.name == name), None)

    def linked_bundle_ids(self, app_id: str) -> set[int]:
        linked: set[int] = set()
        for channel in self.channels.get(app_id, []):
            linked.update(v for v in (channel.version, channel.rollout_version) if v is not None)
        return linked

    def app_view(self, app: App) -> AppView:
        # Devices report version names; `version` resolves to a row even for deleted bundles.
        ids = {b.name: b.id for b in self.bundles.get(app.app_id, [])}
        names = frozenset(c.name for c in self.channels.get(app.app_id, []))
        return AppView(app_id=app.app_id, bundle_ids=ids, channels=names)

    def key_by_value(self, value: str) -> ApiKey | None:
        digest = hashlib.sha256(value.encode()).hexdigest()
        for key in self.keys:
            if key.key == value or key.key_hash == digest:
                return key
        return None

    def key_by_id(self, key_id: int) -> ApiKey | None:
        return next((k for k in self.keys if k.id == key_id), None)
