"""The device index: every device Capgo knows, reduced to the few fields we aggregate on.

Counting devices means walking ``GET /device`` (the API has no count), so the exporter keeps
what it walked in SQLite: ``devices.sqlite3`` in the state directory (a restart then does not
re-walk a million devices), or ``:memory:`` when none is set. Rows are kept small so a million
devices fit the memory target (≤ 150 MB RSS):

- a device is keyed by (app number, a 64-bit number from its device_id; see `device_key`),
  not by the 36-character id: at a million devices per app the chance of any collision is
  about 3·10⁻⁸, and a collision would merge two devices into one row, an error far below
  what a gauge shows;
- everything else a device has that we aggregate on (platform, bundle, native and plugin
  versions, channel override, is_prod, is_emulator) is one "profile" number: a fleet has a few
  thousand distinct combinations, stored once in a small table (never pruned: new ones come
  with releases, a few hundred at most each);
- ``updated_at`` is epoch milliseconds: exact high-water marks and seen windows, for two bytes
  more a row than seconds would take.

So a device row is (app, key, profile, updated_ms, generation), about 28 bytes on disk in a
WITHOUT ROWID B-tree. Aggregates are one GROUP BY profile per app, expanded in Python.

Every method is thread-safe (one lock) so the collector can run them in worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from hashlib import blake2b
from pathlib import Path
from typing import Any, Final, TypeVar

import structlog

from capgo_exporter.api.device_rows import DeviceRow, row_from_mapping
from capgo_exporter.collect.corrupt_copies import prune_corrupt_copies, set_aside_name
from capgo_exporter.collect.labels import flag, text

FILE_NAME: Final = "devices.sqlite3"
OTHER: Final = "other"
_K = TypeVar("_K", bound=Hashable)
# version_name values Capgo uses for "the bundle inside the binary" (reference §3.5).
BUILTIN_NAMES: Final = frozenset({"builtin", "unknown"})
SEEN_WINDOWS: Final = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_BATCH: Final = 1000  # rows per INSERT: 5,000 parameters, under SQLite's 32,766
_SIGN: Final = 1 << 63  # unsigned 64-bit order to SQLite's signed integers
# Bump when the tables change: the index is a cache of Capgo, so it is rebuilt, not migrated.
_SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE app (
    id INTEGER PRIMARY KEY,
    app_id TEXT NOT NULL UNIQUE,
    high_water_ms INTEGER,          -- newest updated_at a complete walk stored
    last_full_sync_ms INTEGER,      -- when the last complete full walk began
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE profile (
    id INTEGER PRIMARY KEY,
    platform TEXT, bundle TEXT, native_version TEXT, plugin_version TEXT, channel TEXT,
    is_prod INTEGER, is_emulator INTEGER
);
CREATE TABLE device (
    app INTEGER NOT NULL,
    key INTEGER NOT NULL,
    profile INTEGER NOT NULL,
    updated_ms INTEGER,
    generation INTEGER NOT NULL,
    PRIMARY KEY (app, key)
) WITHOUT ROWID;
"""

# (platform, version_name, version_build, plugin_version, channel, is_prod, is_emulator)
Profile = tuple[
    str | None, str | None, str | None, str | None, str | None, bool | None, bool | None
]


@lru_cache(maxsize=16)
def _insert_sql(rows: int) -> str:
    return "REPLACE INTO device VALUES " + ",".join(["(?, ?, ?, ?, ?)"] * rows)


def device_key(device_id: str) -> int:
    """The signed 64-bit number the index stores instead of the device id.

    For a UUID (what Capgo's plugin sends): its first 32 bits, then the other 96 folded into
    32. Keys then follow device_id order, the order of a full walk, so the walk appends to
    the B-tree instead of writing all over it (measured 4 times cheaper on a file), and every
    random bit of a v4 UUID (or of a v7, whose head is a timestamp) still counts. Case does
    not matter: Capgo lowercases device ids. Any other id: 64 bits of BLAKE2b.
    """
    if len(device_id) == 36:
        try:
            x = int(device_id.replace("-", ""), 16)
        except ValueError:
            pass
        else:
            key = (x >> 64 ^ (x ^ x >> 32) & 0xFFFFFFFF) - _SIGN
            if -_SIGN <= key < _SIGN:  # not so for 36 hex digits without dashes
                return key
    return int.from_bytes(blake2b(device_id.encode(), digest_size=8).digest(), signed=True)


def to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def _epoch_ms(value: Any) -> int | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "YYYY-MM-DD HH:MM:SS", Analytics Engine's form, is UTC
        moment = moment.replace(tzinfo=UTC)
    return to_ms(moment)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _canonical(key: tuple[Any, ...]) -> Profile:
    """A profile from raw JSON values of any type: text stays text, the rest becomes None."""
    platform, bundle, native, plugin, channel, prod, emulator = key
    return (
        _text(platform),
        _text(bundle),
        _text(native),
        _text(plugin),
        _text(channel),
        _flag(prod),
        _flag(emulator),
    )


def _stored(values: list[Any]) -> Profile:
    *texts, prod, emulator = values  # SQLite gives booleans back as 0 and 1
    return _canonical(
        (*texts, None if prod is None else bool(prod), None if emulator is None else bool(emulator))
    )


def _bundle_name(row: DeviceRow) -> Any:
    # The seed doc's device carried its bundle as version: {id, name}.
    version = row.version
    return version.get("name") if isinstance(version, dict) else None


@dataclass
class AppDevices:
    """Every aggregate of one app's devices, with label values ready for the exposition."""

    total: int = 0
    # (platform, bundle, is_prod, is_emulator) -> devices
    by_bundle: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    by_native: dict[tuple[str, str], int] = field(default_factory=dict)  # platform, build
    by_plugin: dict[str, int] = field(default_factory=dict)
    on_builtin: dict[str, int] = field(default_factory=dict)  # every platform present
    seen: dict[str, dict[str, int]] = field(default_factory=dict)  # window -> platform -> n
    overrides: dict[str, int] = field(default_factory=dict)  # override channel -> devices
    # (override channel or None, version_name) as Capgo sent them, for channel adoption.
    running: dict[tuple[str | None, str | None], int] = field(default_factory=dict)

    def folded_by_bundle(self, max_bundles: int) -> dict[tuple[str, str, str, str], int]:
        """`by_bundle` with every bundle past the `max_bundles` most used as "other", so a long
        tail of old bundles cannot blow up cardinality."""
        return fold_rare(
            self.by_bundle, max_bundles, lambda k: k[1], lambda k: (k[0], OTHER, k[2], k[3])
        )

    def folded_by_native(self, keep: int) -> dict[tuple[str, str], int]:
        """`by_native` with the `keep` most common (platform, build) pairs; the rest become
        (platform, "other"): at most ``keep`` + one per platform series."""
        return fold_rare(self.by_native, keep, lambda k: k, lambda k: (k[0], OTHER))

    def folded_by_plugin(self, keep: int) -> dict[str, int]:
        """`by_plugin` with the `keep` most common versions; the rest become "other"."""
        return fold_rare(self.by_plugin, keep, lambda k: k, lambda k: OTHER)


def fold_rare(
    counts: Mapping[_K, int],
    keep: int,
    label: Callable[[_K], Hashable],
    folded: Callable[[_K], _K],
) -> dict[_K, int]:
    """``counts`` with the ``keep`` values of ``label`` that count most (ties by name, so the
    choice is stable from one run to the next) kept as they are, and every other key replaced
    by ``folded(key)``, its counts summed."""
    per_label: Counter[Hashable] = Counter()
    for key, count in counts.items():
        per_label[label(key)] += count
    kept = set(sorted(per_label, key=lambda v: (-per_label[v], str(v)))[:keep])
    result: Counter[_K] = Counter()
    for key, count in counts.items():
        result[key if label(key) in kept else folded(key)] += count
    return dict(result)


def _aggregate(rows: Iterable[tuple[Profile, int, int, int, int]]) -> AppDevices:
    by_bundle: Counter[tuple[str, str, str, str]] = Counter()
    by_native: Counter[tuple[str, str]] = Counter()
    by_plugin: Counter[str] = Counter()
    on_builtin: Counter[str] = Counter()
    seen: dict[str, Counter[str]] = {window: Counter() for window in SEEN_WINDOWS}
    overrides: Counter[str] = Counter()
    running: Counter[tuple[str | None, str | None]] = Counter()
    total = 0
    for profile, count, *seen_counts in rows:
        platform, bundle, native, plugin, channel, prod, emulator = profile
        where = text(platform)
        total += count
        by_bundle[(where, text(bundle), flag(prod), flag(emulator))] += count
        by_native[(where, text(native))] += count
        by_plugin[text(plugin)] += count
        # Missing names are not evidence of the builtin bundle: only Capgo's own markers are.
        builtin = bundle is not None and (bundle == native or bundle in BUILTIN_NAMES)
        on_builtin[where] += count if builtin else 0
        for window, n in zip(SEEN_WINDOWS, seen_counts, strict=True):
            seen[window][where] += n
        if channel is not None:
            overrides[channel] += count
        running[(channel, bundle)] += count
    return AppDevices(
        total=total,
        by_bundle=dict(by_bundle),
        by_native=dict(by_native),
        by_plugin=dict(by_plugin),
        on_builtin=dict(on_builtin),
        seen={window: dict(counts) for window, counts in seen.items()},
        overrides=dict(overrides),
        running=dict(running),
    )


class DeviceIndex:
    def __init__(self, path: Path | None = None) -> None:
        """An index in the SQLite file `path`, or in memory when None."""
        self._lock = threading.Lock()
        self._file = path is not None
        # Worker threads take turns under self._lock, so one connection is shared.
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:", check_same_thread=False
        )
        if self._file:
            # WAL with NORMAL: a commit (one page of devices) appends to the log without an
            # fsync. A crash may lose the last pages stored, never the file: the marks are
            # committed after their pages, so the next walk fetches those again.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._ensure_schema()
        # Profile lookups by raw JSON values (the hot path) and by number (for aggregates).
        self._profiles: dict[tuple[Any, ...], int] = {}
        self._profile_values: dict[int, Profile] = {}
        for profile_id, *values in self._db.execute("SELECT * FROM profile"):
            profile = _stored(values)
            self._profiles[profile] = profile_id
            self._profile_values[profile_id] = profile
        self._apps: dict[str, int] = dict(self._db.execute("SELECT app_id, id FROM app"))
        self._closed = False

    @classmethod
    def open(
        cls, state_dir: Path | None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> DeviceIndex:
        """The index of ``state_dir``. It is a cache of what Capgo knows: a file SQLite cannot
        read is set aside (renamed ``*.<UTC time>.corrupt``, the last few kept,
        so a second corruption does not erase the evidence of the first) and the index is
        rebuilt by a full walk."""
        if state_dir is None:
            return cls(None)
        path = state_dir / FILE_NAME
        try:
            return cls(path)
        except sqlite3.DatabaseError as error:
            aside = set_aside_name(path, now())
            path.replace(aside)
            prune_corrupt_copies(path)
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            structlog.get_logger("capgo_exporter.devices").warning(
                "device index unreadable; set aside, rebuilding from Capgo",
                path=str(path),
                moved_to=str(aside),
                error=str(error),
            )
            return cls(path)

    def _ensure_schema(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == _SCHEMA_VERSION:
            return
        with self._db:
            for table in ("device", "profile", "app"):
                self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    # -- writing -----------------------------------------------------------------------------

    def upsert_rows(self, app_id: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """`upsert_devices` for rows decoded as plain JSON objects (rows without a string
        device_id are skipped)."""
        devices = [row for row in map(row_from_mapping, rows) if row is not None]
        self.upsert_devices(app_id, devices)

    def upsert_devices(self, app_id: str, rows: Sequence[DeviceRow]) -> None:
        """Store one page of GET /device rows in one transaction. Rows need a string
        device_id; any other field may be missing, null or of another type.

        The exporter's hot path, about 1 µs a device (see benchmarks/bench_devices.py): one
        tuple lookup for the profile, values checked only when a combination is new.
        """
        values: list[Any] = []  # five per device, flat, for multi-row INSERTs
        add = values.extend
        profiles = self._profiles
        fromisoformat = datetime.fromisoformat
        with self._lock, self._db:
            app, generation = self._app(app_id)
            for row in rows:
                raw = (
                    row.platform,
                    row.version_name,
                    row.version_build,
                    row.plugin_version,
                    row.channel,
                    row.is_prod,
                    row.is_emulator,
                )
                try:
                    profile = profiles[raw]
                except (KeyError, TypeError):  # new, or an unhashable value (a nested object)
                    profile = self._new_profile(row, raw)
                try:
                    updated: int | None = (fromisoformat(row.updated_at) - _EPOCH) // _MS
                except (TypeError, ValueError):  # no zone, or no valid timestamp
                    updated = _epoch_ms(row.updated_at)
                add((app, device_key(row.device_id), profile, updated, generation))
            # One statement for many rows costs a third of executemany's row-by-row steps.
            step = 5 * _BATCH
            for start in range(0, len(values), step):
                batch = values[start : start + step]
                self._db.execute(_insert_sql(len(batch) // 5), batch)

    def _new_profile(self, row: DeviceRow, raw: tuple[Any, ...]) -> int:
        bundle = raw[1]
        if bundle is None:
            bundle = _bundle_name(row)
        canonical = _canonical((raw[0], bundle, *raw[2:]))
        profile = self._profiles.get(canonical)
        if profile is None:
            cursor = self._db.execute(
                "INSERT INTO profile VALUES (NULL, ?, ?, ?, ?, ?, ?, ?)", canonical
            )
            profile = cursor.lastrowid
            assert profile is not None  # an INSERT always sets it
            self._profiles[canonical] = profile
            self._profile_values[profile] = canonical
        # Remember the raw values so the next identical row is a hit: not when the bundle came
        # from elsewhere in the row, nor when a value is unhashable.
        if raw[1] is not None:
            with suppress(TypeError):
                self._profiles[raw] = profile
        return profile

    def _app(self, app_id: str) -> tuple[int, int]:
        """The app's number and current generation, registering the app when new."""
        app = self._apps.get(app_id)
        if app is None:
            cursor = self._db.execute("INSERT INTO app (app_id) VALUES (?)", (app_id,))
            assert cursor.lastrowid is not None
            app = self._apps[app_id] = cursor.lastrowid
        (generation,) = self._db.execute(
            "SELECT generation FROM app WHERE id = ?", (app,)
        ).fetchone()
        return app, generation

    def begin_full_sync(self, app_id: str) -> None:
        """Start a full walk: rows stored from now on carry a new generation."""
        with self._lock, self._db:
            app, _ = self._app(app_id)
            self._db.execute("UPDATE app SET generation = generation + 1 WHERE id = ?", (app,))

    def finish_full_sync(self, app_id: str, started: datetime) -> int:
        """The full walk that began at `started` completed: delete the devices it did not
        return (Capgo forgot them) and move the high-water mark. Returns how many went."""
        with self._lock, self._db:
            app, generation = self._app(app_id)
            deleted = self._db.execute(
                "DELETE FROM device WHERE app = ? AND generation < ?", (app, generation)
            ).rowcount
            self._db.execute(
                "UPDATE app SET last_full_sync_ms = ? WHERE id = ?", (to_ms(started), app)
            )
            self._advance_mark(app, started)
        return deleted

    def finish_incremental_sync(self, app_id: str, started: datetime) -> None:
        """The walk of devices changed since the mark, begun at `started`, completed."""
        with self._lock, self._db:
            app, _ = self._app(app_id)
            self._advance_mark(app, started)

    def _advance_mark(self, app: int, started: datetime) -> None:
        # The newest updated_at stored, but not past the walk's start: a walk in device_id
        # order misses devices that change behind it, and those changed after it began, so
        # the next incremental walk fetches them. Never backwards: a device Capgo forgot may
        # have held the newest time.
        (newest,) = self._db.execute(
            "SELECT max(updated_ms) FROM device WHERE app = ?", (app,)
        ).fetchone()
        if newest is not None:
            self._db.execute(
                "UPDATE app SET high_water_ms = max(coalesce(high_water_ms, ?1), ?1) WHERE id = ?2",
                (min(newest, to_ms(started)), app),
            )

    def drop_app(self, app_id: str) -> None:
        """The app is gone (or no longer selected): forget it and its devices."""
        with self._lock, self._db:
            app = self._apps.pop(app_id, None)
            if app is not None:
                self._db.execute("DELETE FROM device WHERE app = ?", (app,))
                self._db.execute("DELETE FROM app WHERE id = ?", (app,))

    # -- reading -----------------------------------------------------------------------------

    def app_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._apps)

    def high_water_mark(self, app_id: str) -> datetime | None:
        ms = self._app_field(app_id, "high_water_ms")
        return None if ms is None else from_ms(ms)

    def last_full_sync(self, app_id: str) -> datetime | None:
        ms = self._app_field(app_id, "last_full_sync_ms")
        return None if ms is None else from_ms(ms)

    def _app_field(self, app_id: str, column: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {column} FROM app WHERE app_id = ?", (app_id,)
            ).fetchone()
        return None if row is None else row[0]

    def size_bytes(self) -> int:
        """Bytes the database holds (in the file, or in memory)."""
        with self._lock:
            (pages,) = self._db.execute("PRAGMA page_count").fetchone()
            (page_size,) = self._db.execute("PRAGMA page_size").fetchone()
        return int(pages * page_size)

    def summarize(self, app_id: str, now: datetime) -> AppDevices:
        """Every aggregate of the app in one pass over its devices."""
        since = [to_ms(now - span) for span in SEEN_WINDOWS.values()]
        with self._lock:
            app = self._apps.get(app_id)
            if app is None:
                return AppDevices()
            counts = self._db.execute(
                "SELECT profile, count(*), total(updated_ms >= ?), total(updated_ms >= ?),"
                " total(updated_ms >= ?) FROM device WHERE app = ? GROUP BY profile",
                (*since, app),
            ).fetchall()
            profiles = self._profile_values
            return _aggregate(
                (profiles[p], n, int(d1), int(d7), int(d30)) for p, n, d1, d7, d30 in counts
            )

    def close(self) -> None:
        """Commit and release the file (its WAL folded back in, so the file stands alone)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.commit()
            if self._file:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
