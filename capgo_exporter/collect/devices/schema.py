"""The device index's tables, and a connection to them.

A device row is (app, key, profile, updated_ms, generation), about 28 bytes on disk in a
WITHOUT ROWID B-tree:

- ``app`` is the app's number in the ``app`` table, which also holds its sync bookkeeping
  (high-water mark, last complete full walk, current generation);
- ``key`` is a 64-bit number from the device_id (`columns.device_key`), not the 36-character
  id: at a million devices per app the chance of any collision is about 3·10⁻⁸, and a
  collision would merge two devices into one row, an error far below what a gauge shows;
- ``profile`` is the number of the device's combination of the fields we aggregate on
  (platform, bundle, native and plugin versions, channel override, is_prod, is_emulator) in
  the ``profile`` table: a fleet has a few thousand, each stored once (never pruned: new ones
  come with releases, a few hundred at most each);
- ``updated_ms`` is ``updated_at`` in epoch milliseconds: exact high-water marks and seen
  windows, for two bytes more a row than seconds would take.

The index is a cache of Capgo: tables of another version are dropped and made anew, never
migrated, and the next walk fills them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

FILE_NAME: Final = "devices.sqlite3"
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


def connect(path: Path | None) -> sqlite3.Connection:
    """A connection to the index in the SQLite file ``path`` (in memory when None), its tables
    made when it has none of this version. Raises `sqlite3.DatabaseError` for a file SQLite
    cannot read."""
    # Worker threads take turns under the index's lock, so one connection is shared.
    db = sqlite3.connect(str(path) if path is not None else ":memory:", check_same_thread=False)
    if path is not None:
        # WAL with NORMAL: a commit (one page of devices) appends to the log without an
        # fsync. A crash may lose the last pages stored, never the file: the marks are
        # committed after their pages, so the next walk fetches those again.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    _ensure_schema(db)
    return db


def _ensure_schema(db: sqlite3.Connection) -> None:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version == _SCHEMA_VERSION:
        return
    with db:
        for table in ("device", "profile", "app"):
            db.execute(f"DROP TABLE IF EXISTS {table}")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
