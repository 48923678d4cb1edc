"""Builds the initial world from a SimConfig: same seed, same account, at any size."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta

from capgo_exporter.sim.config import SimConfig
from capgo_exporter.sim.devices import DeviceStore
from capgo_exporter.sim.events import EventLog
from capgo_exporter.sim.hashing import mix, stable_uuid
from capgo_exporter.sim.model import ApiKey, App, Binding, Bundle, Channel, Member, Org, User
from capgo_exporter.sim.rbac import APP_ROLES, ROLE_PERMISSIONS
from capgo_exporter.sim.state import RESERVED_BUNDLES, World
from capgo_exporter.sim.stats import AppSeries
from capgo_exporter.sim.timeutil import Clock, to_ms

_ORG_NAMES = (
    "Acme Mobile",
    "Globex Apps",
    "Initech Labs",
    "Umbrella Health",
    "Stark Retail",
    "Wayne Fintech",
    "Hooli Games",
    "Soylent Foods",
)
_APP_NAMES = ("shop", "wallet", "companion", "driver", "kiosk", "admin")
_PEOPLE = (
    "alex.morgan",
    "sam.lee",
    "priya.patel",
    "jonas.berg",
    "mei.chen",
    "lucas.silva",
    "fatima.diallo",
    "noah.kim",
    "ines.dupont",
    "omar.haddad",
)
_MEMBER_ROLES = ("org_admin", "org_member", "org_billing_admin", "org_member", "org_admin")
_HISTORY_DAYS = 120


def build_world(config: SimConfig, clock: Clock) -> World:
    now = clock()
    world = World(config=config, clock=clock, rng=random.Random(mix(config.seed, "rng")))
    account = _user(world, config.seed, "you", "alex.morgan@example.com")
    world.account_uid = account.uid
    for org_index in range(config.orgs):
        org = _org(world, org_index, now)
        world.orgs.append(org)
        for app_index in range(config.apps_per_org):
            _app(world, org, org_index * config.apps_per_org + app_index, app_index, now)
    _configured_keys(world, now)
    for org in world.orgs:
        _generated_keys(world, org, now)
    return world


def _user(world: World, seed: int, *parts: str) -> User:
    user = User(uid=stable_uuid(seed, "user", *parts), email=parts[-1])
    world.users[user.email] = user
    return user


def _slug(org_index: int) -> str:
    base = _ORG_NAMES[org_index % len(_ORG_NAMES)].split()[0].lower()
    return base if org_index < len(_ORG_NAMES) else f"{base}{org_index}"


def _org(world: World, index: int, now: datetime) -> Org:
    seed = world.config.seed
    name = _ORG_NAMES[index % len(_ORG_NAMES)]
    if index >= len(_ORG_NAMES):
        name = f"{name} {index // len(_ORG_NAMES) + 1}"
    slug = _slug(index)
    created = now - timedelta(days=400 - index)
    org = Org(
        index=index,
        id=stable_uuid(seed, "org", index),
        name=name,
        created_by=world.account_uid,
        created_at=created,
        updated_at=created,
        management_email=f"billing@{slug}.example",
        website=f"https://{slug}.example/",
        customer_id=f"cus_{mix(seed, 'cus', index) % 10**12:012d}",
        paying=index not in world.config.unpaid_orgs,
    )
    org.members.append(Member(uid=world.account_uid, role="org_super_admin", is_tmp=False))
    for m in range(1, world.config.members_per_org):
        person = _PEOPLE[m % len(_PEOPLE)]
        user = _user(world, seed, f"{person}{m}@{slug}.example")
        org.members.append(
            Member(uid=user.uid, role=_MEMBER_ROLES[(m - 1) % len(_MEMBER_ROLES)], is_tmp=False)
        )
    for n, role in enumerate(("org_member", "org_admin")):
        user = _user(world, seed, f"invitee{n}@{slug}.example")
        org.members.append(Member(uid=user.uid, role=role, is_tmp=True))
    # Registered users outside the org, so invitations have someone to invite.
    _user(world, seed, f"contractor@{slug}.example")
    return org


def _semver(position: int) -> str:
    return f"1.{position // 4}.{position % 4}"


def _app(world: World, org: Org, salt: int, app_index: int, now: datetime) -> None:
    config = world.config
    seed = config.seed
    name = _APP_NAMES[app_index % len(_APP_NAMES)]
    if app_index >= len(_APP_NAMES):
        name = f"{name}{app_index // len(_APP_NAMES) + 1}"
    created = now - timedelta(days=_HISTORY_DAYS, hours=salt % 24)
    app = App(
        id=stable_uuid(seed, "app", salt),
        app_id=f"com.{_slug(org.index)}.{name}",
        name=f"{org.name.split()[0]} {name.capitalize()}",
        owner_org=org.id,
        user_id=world.account_uid,
        created_at=created,
        updated_at=created,
        salt=salt,
    )
    bundles = _bundles(world, app, now)
    channels = _channels(world, app, _uploads(bundles), now)
    _install(world, app, bundles, channels, now, config.devices_per_app)


def _uploads(bundles: list[Bundle]) -> list[Bundle]:
    """The live uploaded bundles (not the reserved rows), in creation order."""
    return [b for b in bundles if b.name not in RESERVED_BUNDLES and not b.deleted]


def _install(
    world: World,
    app: App,
    bundles: list[Bundle],
    channels: list[Channel],
    now: datetime,
    devices: int,
) -> None:
    """Add `app` and its per-app stores; devices draw from its uploads and private channels."""
    index = len(world.apps)
    world.apps.append(app)
    world.bundles[app.app_id] = bundles
    world.channels[app.app_id] = channels
    world.devices[app.app_id] = DeviceStore(
        seed=world.config.seed,
        salt=app.salt,
        base_count=devices,
        base_ms=to_ms(now),
        version_names=[b.name for b in reversed(_uploads(bundles))],
        forced_channels=[c.name for c in channels if not c.public],
    )
    world.series[app.app_id] = AppSeries(
        seed=world.config.seed,
        salt=app.salt,
        first_day=app.created_at.date(),
        devices=devices,
        bundles=bundles,  # the same list: deletions show up in storage at once
    )
    versions = world.devices[app.app_id].version_weights
    world.events[app.app_id] = EventLog(
        seed=world.config.seed,
        salt=app.salt,
        first_day=app.created_at.date(),
        devices=devices,
        versions=versions,
        # The newest upload is the release that goes bad: the one a rollout would be pausing.
        bad_bundle=versions[0][0] if versions and index in world.config.bad_release_apps else None,
    )


def _reserved_bundles(world: World, app: App) -> list[Bundle]:
    return [_bundle(world, app, name, app.created_at, size=0) for name in ("builtin", "unknown")]


def _bundles(world: World, app: App, now: datetime) -> list[Bundle]:
    count = world.config.bundles_per_app
    rows = _reserved_bundles(world, app)
    span = timedelta(days=_HISTORY_DAYS - 10)
    for position in range(count):
        age = span * (count - position) / count + timedelta(days=2)
        jitter = timedelta(minutes=mix(world.config.seed, app.salt, position) % 600)
        created = now - age + jitter
        size = 2_000_000 + mix(world.config.seed, app.salt, position, "size") % 13_000_000
        rows.append(_bundle(world, app, _semver(position), created, size=size))
    # The two oldest uploads were cleaned up a week after they were superseded.
    for bundle in rows[2:4] if count >= 6 else []:
        bundle.deleted = True
        bundle.deleted_at = bundle.created_at + timedelta(days=7)
    return rows


def _bundle(world: World, app: App, name: str, created: datetime, *, size: int) -> Bundle:
    checksum = hashlib.sha256(f"{app.app_id}@{name}".encode()).hexdigest()[:40]
    return Bundle(
        id=world.new_id(),
        app_id=app.app_id,
        name=name,
        created_at=created,
        updated_at=created,
        size=size,
        checksum=checksum,
        owner_org=app.owner_org,
        user_id=world.account_uid,
    )


def _channels(world: World, app: App, live: list[Bundle], now: datetime) -> list[Channel]:
    """production (public, 25 % rollout), beta (private), staging (private, paused rollout).

    `live` is in creation order, so the newest bundle is last.
    """
    newest = live[-1].id if live else None
    second = live[-2].id if len(live) > 1 else newest
    third = live[-3].id if len(live) > 2 else second
    names = ["production", "beta", "staging"][: world.config.channels_per_app]
    names += [f"channel-{i}" for i in range(4, world.config.channels_per_app + 1)]
    rows = []
    for position, name in enumerate(names):
        created = app.created_at + timedelta(hours=position + 1)
        channel = Channel(
            id=world.new_id(),
            app_id=app.app_id,
            name=name,
            created_at=created,
            updated_at=now - timedelta(days=1 + position, hours=position),
            created_by=world.account_uid,
            version=newest,
            public=name == "production",
        )
        if name == "production":
            channel.version = second
            if newest != second:
                channel.rollout_enabled = True
                channel.rollout_version = newest
                channel.rollout_percentage_bps = 2500
        elif name == "beta":
            channel.allow_device_self_set = True
            channel.allow_prod = False
        elif name == "staging":
            channel.version = third
            channel.allow_emulator = False
            if newest != third:
                channel.rollout_enabled = True
                channel.rollout_version = newest
                channel.rollout_percentage_bps = 5000
                channel.rollout_paused_at = now - timedelta(days=2)
                channel.rollout_pause_reason = "failure rate above threshold"
        rows.append(channel)
    return rows


def _bindings(world: World, org: Org, role: str) -> list[Binding]:
    """A key's bindings for `role` on `org`."""
    if role in APP_ROLES:
        # What Capgo's key migration (20260526133000_migrate_apikeys_to_v2_timestamp_fix.sql)
        # did for app-limited keys: apikey_org_reader on the org plus the app role per app.
        apps = world.live_apps(org.id)
        return [Binding("apikey_org_reader", org.id), *(Binding(role, org.id, a.id) for a in apps)]
    return [Binding(role, org.id)]


def _configured_keys(world: World, now: datetime) -> None:
    for value, role in world.config.keys.items():
        if role not in ROLE_PERMISSIONS:
            raise ValueError(f"unknown role {role!r} for a configured key")
        org_indexes = world.config.key_orgs.get(value, frozenset(range(len(world.orgs))))
        bindings = [
            binding
            for org in world.orgs
            if org.index in org_indexes
            for binding in _bindings(world, org, role)
        ]
        created = now - timedelta(days=30)
        world.keys.append(
            ApiKey(
                id=len(world.keys) + 1,
                name=f"{role} key {len(world.keys) + 1}",
                user_id=world.account_uid,
                rbac_id=stable_uuid(world.config.seed, "rbac", value),
                created_at=created,
                updated_at=created,
                expires_at=None,
                key=value,
                key_hash=None,
                bindings=bindings,
                global_permissions=["org.create"] if role == "org_super_admin" else [],
            )
        )


def _generated_keys(world: World, org: Org, now: datetime) -> None:
    """Three keys per org: a hashed CI key that expires, a dashboard key, an expired one."""
    specs = (
        ("ci-deploy", "app_uploader", timedelta(days=60), True),
        ("grafana", "app_reader", None, False),
        ("old-release", "org_admin", timedelta(days=-10), False),
    )
    for name, role, expiry, hashed in specs:
        plain = stable_uuid(world.config.seed, "apikey", org.index, name)
        created = now - timedelta(days=90)
        world.keys.append(
            ApiKey(
                id=len(world.keys) + 1,
                name=f"{name}-{_slug(org.index)}",
                user_id=world.account_uid,
                rbac_id=stable_uuid(world.config.seed, "rbac", org.index, name),
                created_at=created,
                updated_at=created,
                expires_at=None if expiry is None else now + expiry,
                key=None if hashed else plain,
                key_hash=hashlib.sha256(plain.encode()).hexdigest() if hashed else None,
                bindings=_bindings(world, org, role),
                global_permissions=[],
            )
        )


def create_app(world: World, org: Org, app_id: str, name: str) -> App:
    """An app created through POST /app: reserved bundle rows only, no channels, no devices."""
    now = world.now()
    salt = len(world.apps)
    app = App(
        id=world.new_uuid(),
        app_id=app_id,
        name=name,
        owner_org=org.id,
        user_id=world.account_uid,
        created_at=now,
        updated_at=now,
        salt=salt,
    )
    _install(world, app, _reserved_bundles(world, app), [], now, devices=0)
    return app
