"""The device index: every device Capgo knows, reduced to the few fields we aggregate on.

Counting devices means walking ``GET /device`` (the API has no count), so the exporter keeps
what it walked in SQLite: ``devices.sqlite3`` in the state directory (a restart then does not
re-walk a million devices), or ``:memory:`` when none is set. Rows are kept small so a million
devices fit the memory target (≤ 150 MB RSS):

- a device is keyed by (app number, a 64-bit number from its device_id; see
  `columns.device_key`), not by the 36-character id: at a million devices per app the
  chance of any collision is about 3·10⁻⁸, and a collision would merge two devices into one
  row, an error far below what a gauge shows;
- everything else a device has that we aggregate on (platform, bundle, native and plugin
  versions, channel override, is_prod, is_emulator) is one "profile" number: a fleet has a few
  thousand distinct combinations, stored once in a small table (never pruned: new ones come
  with releases, a few hundred at most each);
- ``updated_at`` is epoch milliseconds: exact high-water marks and seen windows, for two bytes
  more a row than seconds would take.

So a device row is (app, key, profile, updated_ms, generation), about 28 bytes on disk in a
WITHOUT ROWID B-tree. Aggregates come from a `DeviceTally` per app, kept up to date as pages
are stored (a GROUP BY over a million rows sorts them all: half a second each run), plus one
scan for the seen windows' first hours; a tally is counted from the rows only after a start
or when a full walk got a device twice.

Every method is thread-safe (one lock) so the collector can run them in worker threads.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import structlog

from capgo_exporter.api.device_rows import DeviceRow, row_from_mapping
from capgo_exporter.collect.devices.aggregates import SEEN_WINDOWS, AppDevices, Profile, aggregate
from capgo_exporter.collect.devices.columns import device_keys, epoch_ms_column, from_ms, to_ms
from capgo_exporter.collect.devices.corrupt_copies import prune_corrupt_copies, set_aside_name
from capgo_exporter.collect.devices.tally import HOUR_MS, DeviceTally, PlatformCodes
from capgo_exporter.collect.labels import text

FILE_NAME: Final = "devices.sqlite3"
_BATCH: Final = 1000  # rows per INSERT: 3,000 parameters, under SQLite's 32,766
_LOOKUP_BATCH: Final = 900  # keys per SELECT ... IN (...)
# The fields of a row that make its profile, in `Profile` order.
_PROFILE_FIELDS: Final = attrgetter(
    "platform",
    "version_name",
    "version_build",
    "plugin_version",
    "channel",
    "is_prod",
    "is_emulator",
)
Stamps = npt.NDArray[np.int64] | list[int | None]
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


@lru_cache(maxsize=16)
def _insert_sql(verb: str, rows: int, app: int, generation: int) -> str:
    # App and generation are the same for a whole page: written into the statement (they are
    # our own integers), three values a row are bound instead of five, a fifth less time.
    return f"{verb} INTO device VALUES " + ",".join([f"({app}, ?, ?, ?, {generation})"] * rows)


@dataclass
class _Walk:
    """A full walk going on: the tally of the rows it stored, and whether it is *fresh*: the
    app had no rows when it began and no device came twice since. A fresh walk only inserts,
    and finishing it deletes nothing and needs no count to trust its tally (on a million
    devices, two scans fewer)."""

    tally: DeviceTally
    fresh: bool


def _interned(value: Any) -> Any:
    """Text as the one object Python keeps for it. A profile's values are interned, as
    `DevicePageDecoder` interns the values it hands out: a lookup then compares each value by
    identity instead of character by character."""
    return sys.intern(value) if type(value) is str else value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return sys.intern(value) if type(value) is str else value
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
        # Platform labels in the order first seen (numbers never reused), and each profile
        # number's label number; as an array when needed (`_platform_codes`).
        self._labels: list[str] = []
        self._label_numbers: dict[str, int] = {}
        self._platforms: list[int] = []
        self._codes: PlatformCodes | None = None
        for profile_id, *values in self._db.execute("SELECT * FROM profile"):
            self._remember_profile(profile_id, _stored(values))
        self._apps: dict[str, int] = dict(self._db.execute("SELECT app_id, id FROM app"))
        # Per app number: the tally of what the index holds, and that of a full walk going on
        # (its rows so far). An app without a tally gets one from its rows when summarized.
        self._tallies: dict[int, DeviceTally] = {}
        self._walks: dict[int, _Walk] = {}
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

        The exporter's hot path (benchmarks/bench_devices.py): one tuple lookup a device for
        its profile (values checked only when a combination is new), keys and timestamps
        converted a page at a time (`columns`), multi-row INSERTs.
        """
        with self._lock, self._db:
            app, generation = self._app(app_id)
            profiles = self._profile_ids(rows)
            keys = device_keys([row.device_id for row in rows])
            stamps = epoch_ms_column([row.updated_at for row in rows])
            stamp_values = stamps.tolist() if isinstance(stamps, np.ndarray) else stamps
            values = list(chain.from_iterable(zip(keys, profiles, stamp_values, strict=True)))
            try:
                self._count(app, keys, profiles, stamps)
                self._store(app, generation, values)
            except BaseException:
                # The page is rolled back, and the tallies may have counted it: the app's is
                # counted again from its rows, a walk's is checked against them when it ends.
                self._tallies.pop(app, None)
                if (walk := self._walks.get(app)) is not None:
                    walk.fresh = False
                raise

    def _store(self, app: int, generation: int, values: list[Any]) -> None:
        walk = self._walks.get(app)
        # One statement for many rows costs a third of executemany's row-by-row steps.
        step = 3 * _BATCH
        for start in range(0, len(values), step):
            batch = values[start : start + step]
            if walk is not None and walk.fresh:
                try:
                    self._db.execute(_insert_sql("INSERT", len(batch) // 3, app, generation), batch)
                    continue
                except sqlite3.IntegrityError:  # a device stored twice in this walk
                    walk.fresh = False
            self._db.execute(_insert_sql("REPLACE", len(batch) // 3, app, generation), batch)

    def _profile_ids(self, rows: Sequence[DeviceRow]) -> list[int]:
        profiles = self._profiles
        try:
            # Each row's tuple of values is dropped as soon as it is looked up: 50,000 kept
            # alive at once would set off a dozen garbage collections a page.
            found: list[int | None] = list(map(profiles.get, map(_PROFILE_FIELDS, rows)))
        except TypeError:  # an unhashable value (a nested object) somewhere in the page
            found = [None] * len(rows)
        if None not in found:
            return found  # type: ignore[return-value]  # no None left: list[int]
        ids: list[int] = []
        for row, profile in zip(rows, found, strict=True):
            if profile is None:
                raw = _PROFILE_FIELDS(row)
                try:
                    profile = profiles[raw]  # new a few rows ago
                except (KeyError, TypeError):
                    profile = self._new_profile(row, raw)
            ids.append(profile)
        return ids

    def _count(self, app: int, keys: list[int], profiles: list[int], stamps: Stamps) -> None:
        """Keep the app's tallies in step with the page about to be stored."""
        walk = self._walks.get(app)
        if walk is not None:  # duplicates across a walk are caught when it finishes
            walk.tally.add(profiles, stamps, self._platform_codes())
            return
        tally = self._tallies.get(app)
        if tally is None:
            return
        if len(set(keys)) != len(keys):  # the same device twice: the last one is stored
            last = {key: i for i, key in enumerate(keys)}
            kept = sorted(last.values())
            keys = [keys[i] for i in kept]
            profiles = [profiles[i] for i in kept]
            stamps = [stamps[i] for i in kept]
        # A device stored again leaves the tally with its old values, then comes back.
        replaced = self._stored_rows(app, keys)
        if replaced:
            old_profiles, old_stamps = zip(*replaced, strict=True)
            tally.add(old_profiles, list(old_stamps), self._platform_codes(), sign=-1)
        tally.add(profiles, stamps, self._platform_codes())

    def _stored_rows(self, app: int, keys: list[int]) -> list[tuple[int, int | None]]:
        rows: list[tuple[int, int | None]] = []
        for start in range(0, len(keys), _LOOKUP_BATCH):
            batch = keys[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            rows += self._db.execute(
                f"SELECT profile, updated_ms FROM device WHERE app = ? AND key IN ({marks})",
                (app, *batch),
            ).fetchall()
        return rows

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
            self._remember_profile(profile, canonical)
        # Remember the raw values so the next identical row is a hit: not when the bundle came
        # from elsewhere in the row, nor when a value is unhashable.
        if raw[1] is not None:
            with suppress(TypeError):
                self._profiles[tuple(_interned(value) for value in raw)] = profile
        return profile

    def _remember_profile(self, profile_id: int, profile: Profile) -> None:
        self._profiles[profile] = profile_id
        self._profile_values[profile_id] = profile
        label = text(profile[0])
        if label not in self._label_numbers:
            self._label_numbers[label] = len(self._labels)
            self._labels.append(label)
        if len(self._platforms) <= profile_id:  # numbers no profile has: label 0, never read
            self._platforms += [0] * (profile_id + 1 - len(self._platforms))
        self._platforms[profile_id] = self._label_numbers[label]
        self._codes = None

    def _platform(self, profile: int) -> str:
        return self._labels[self._platforms[profile]]

    def _platform_codes(self) -> PlatformCodes:
        if self._codes is None:
            self._codes = PlatformCodes(self._labels, np.array(self._platforms, dtype=np.int64))
        return self._codes

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

    def begin_full_sync(self, app_id: str, now: datetime | None = None) -> None:
        """Start a full walk: rows stored from now on carry a new generation. With ``now``,
        the first summary after it counts the seen windows from what it stored."""
        with self._lock, self._db:
            app, _ = self._app(app_id)
            self._db.execute("UPDATE app SET generation = generation + 1 WHERE id = ?", (app,))
            # Its tally is of the rows it stores; the app's own stops matching at its first page.
            self._tallies.pop(app, None)
            empty = self._db.execute("SELECT 1 FROM device WHERE app = ? LIMIT 1", (app,))
            starts = [to_ms(now - span) for span in SEEN_WINDOWS.values()] if now else None
            self._walks[app] = _Walk(DeviceTally(starts), fresh=empty.fetchone() is None)

    def finish_full_sync(self, app_id: str, started: datetime) -> int:
        """The full walk that began at `started` completed: delete the devices it did not
        return (Capgo forgot them) and move the high-water mark. Returns how many went."""
        with self._lock, self._db:
            app, generation = self._app(app_id)
            walk = self._walks.pop(app, None)
            deleted = 0
            if walk is None or not walk.fresh:
                deleted = self._db.execute(
                    "DELETE FROM device WHERE app = ? AND generation < ?", (app, generation)
                ).rowcount
            self._db.execute(
                "UPDATE app SET last_full_sync_ms = ? WHERE id = ?", (to_ms(started), app)
            )
            if walk is not None and (walk.fresh or self._count_rows(app) == walk.tally.total):
                # Else it counted a device twice (Capgo sent it twice, or two ids share a
                # key): the app gets a tally from its rows when next summarized.
                self._tallies[app] = walk.tally
            self._advance_mark(app, started)
        return deleted

    def _count_rows(self, app: int) -> int:
        (rows,) = self._db.execute("SELECT count(*) FROM device WHERE app = ?", (app,)).fetchone()
        return int(rows)

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
        tally = self._tallies.get(app)
        if tally is not None:
            newest = tally.newest
        else:
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
                self._tallies.pop(app, None)
                self._walks.pop(app, None)
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
        """Every aggregate of the app, from its tally and one scan of its rows for the hour
        each seen window starts in."""
        with self._lock:
            app = self._apps.get(app_id)
            if app is None:
                return AppDevices()
            tally = self._tallies.get(app) or self._tally_from_rows(app)
            counts = tally.profiles
            present = {self._platform(p) for p in counts}
            return aggregate(
                ((self._profile_values[p], n) for p, n in counts.items()),
                self._seen(app, tally, present, now),
            )

    def _tally_from_rows(self, app: int) -> DeviceTally:
        """The app's tally counted from its rows (a sort of them all: once after a start, or
        after a walk that counted a device twice), kept unless a full walk is going on."""
        tally = DeviceTally()
        # Hours rounded down, negative times included, as `DeviceTally` counts them.
        groups = self._db.execute(
            "SELECT profile, (updated_ms - ((updated_ms % ?1) + ?1) % ?1) / ?1, count(*)"
            " FROM device WHERE app = ?2 GROUP BY 1, 2",
            (HOUR_MS, app),
        ).fetchall()
        tally.add_groups(groups, self._platform_codes())
        (tally.newest,) = self._db.execute(
            "SELECT max(updated_ms) FROM device WHERE app = ?", (app,)
        ).fetchone()
        if app not in self._walks:
            self._tallies[app] = tally
        return tally

    def _seen(
        self, app: int, tally: DeviceTally, present: set[str], now: datetime
    ) -> dict[str, Counter[str]]:
        """Devices per platform seen in each window, every platform ``present`` included:
        whole hours from the tally, and the rows of the hour each window starts in counted one
        by one (a scan of the app's rows, skipped when the tally has none in those hours)."""
        starts = {window: to_ms(now - span) for window, span in SEEN_WINDOWS.items()}
        seen = {window: Counter(dict.fromkeys(present, 0)) for window in SEEN_WINDOWS}
        edges: dict[int, list[tuple[str, int]]] = {}  # edge hour -> (window, since)
        for window, since in starts.items():
            after, at_edge = tally.seen_since(since, self._labels)
            seen[window].update(after)
            walked = tally.edge_from_walk(since, self._labels)  # first summary after a walk
            if walked is not None:
                seen[window].update(walked)
            elif at_edge:
                edges.setdefault(since // HOUR_MS, []).append((window, since))
        tally.forget_walk()
        if not edges:
            return seen
        # The hour in SQL rounds toward zero, not down: the same for any time after 1970.
        marks = ",".join("?" * len(edges))
        rows = self._db.execute(
            f"SELECT profile, updated_ms FROM device WHERE app = ? AND updated_ms / ? IN ({marks})",
            (app, HOUR_MS, *edges),
        )
        for profile, ms in rows:
            for window, since in edges.get(ms // HOUR_MS, ()):
                if ms >= since:
                    seen[window][self._platform(profile)] += 1
        return seen

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
