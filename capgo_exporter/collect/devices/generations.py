"""The apps the device index holds and their sync bookkeeping: generations, walks and marks.

Each app has a number (what its device rows carry), a generation and two marks. A full walk
raises the generation, so the rows it stores carry the new one; when it completes, the rows of
older generations are the devices Capgo no longer returned, and are deleted. A walk cut short
deletes nothing, and the next run walks again. The high-water mark is the newest
``updated_at`` stored (never past the start of the walk that stored it): incremental walks ask
only for devices changed after it.

Per app this module also holds the tally of the rows the index has, and that of a full walk
going on, which `rows` keeps in step with each page and `summaries` reads.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from capgo_exporter.collect.devices.aggregates import SEEN_WINDOWS
from capgo_exporter.collect.devices.columns import to_ms
from capgo_exporter.collect.devices.tally import DeviceTally


@dataclass
class Walk:
    """A full walk going on: the tally of the rows it stored, and whether it is *fresh*: the
    app had no rows when it began and no device came twice since. A fresh walk only inserts,
    and finishing it deletes nothing and needs no count to trust its tally (on a million
    devices, two scans fewer)."""

    tally: DeviceTally
    fresh: bool


class Generations:
    """The ``app`` table, and per app number the tallies: ``tallies`` of what the index holds
    (an app without one gets one from its rows when summarized), ``walks`` of the full walks
    going on. The caller holds the index's lock, and its transaction for every change."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._apps: dict[str, int] = dict(db.execute("SELECT app_id, id FROM app"))
        self.tallies: dict[int, DeviceTally] = {}
        self.walks: dict[int, Walk] = {}

    def app_ids(self) -> list[str]:
        return sorted(self._apps)

    def number(self, app_id: str) -> int | None:
        """The app's number, None when the index holds nothing of it."""
        return self._apps.get(app_id)

    def app(self, app_id: str) -> tuple[int, int]:
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

    def distrust_counts(self, app: int) -> None:
        """A page of the app failed to store, after the tallies may have counted it: the app's
        is counted again from its rows, a walk's is checked against them when it ends."""
        self.tallies.pop(app, None)
        if (walk := self.walks.get(app)) is not None:
            walk.fresh = False

    def begin_full_sync(self, app_id: str, now: datetime | None) -> None:
        app, _ = self.app(app_id)
        self._db.execute("UPDATE app SET generation = generation + 1 WHERE id = ?", (app,))
        # Its tally is of the rows it stores; the app's own stops matching at its first page.
        self.tallies.pop(app, None)
        empty = self._db.execute("SELECT 1 FROM device WHERE app = ? LIMIT 1", (app,))
        starts = [to_ms(now - span) for span in SEEN_WINDOWS.values()] if now else None
        self.walks[app] = Walk(DeviceTally(starts), fresh=empty.fetchone() is None)

    def finish_full_sync(self, app_id: str, started: datetime) -> int:
        """Delete the rows of older generations and move the marks; how many rows went."""
        app, generation = self.app(app_id)
        walk = self.walks.pop(app, None)
        deleted = 0
        if walk is None or not walk.fresh:
            deleted = self._db.execute(
                "DELETE FROM device WHERE app = ? AND generation < ?", (app, generation)
            ).rowcount
        self._db.execute("UPDATE app SET last_full_sync_ms = ? WHERE id = ?", (to_ms(started), app))
        if walk is not None and (walk.fresh or self._count_rows(app) == walk.tally.total):
            # Else it counted a device twice (Capgo sent it twice, or two ids share a
            # key): the app gets a tally from its rows when next summarized.
            self.tallies[app] = walk.tally
        self._advance_mark(app, started)
        return deleted

    def finish_incremental_sync(self, app_id: str, started: datetime) -> None:
        app, _ = self.app(app_id)
        self._advance_mark(app, started)

    def _count_rows(self, app: int) -> int:
        (rows,) = self._db.execute("SELECT count(*) FROM device WHERE app = ?", (app,)).fetchone()
        return int(rows)

    def _advance_mark(self, app: int, started: datetime) -> None:
        # The newest updated_at stored, but not past the walk's start: a walk in device_id
        # order misses devices that change behind it, and those changed after it began, so
        # the next incremental walk fetches them. Never backwards: a device Capgo forgot may
        # have held the newest time.
        tally = self.tallies.get(app)
        if tally is not None:
            newest = tally.newest
        else:
            (newest,) = self._db.execute(
                "SELECT max(updated_ms) FROM device WHERE app = ?", (app,)
            ).fetchone()
        if newest is not None:
            self._db.execute(
                "UPDATE app SET high_water_ms = max(coalesce(high_water_ms, :mark), :mark)"
                " WHERE id = :app",
                {"mark": min(newest, to_ms(started)), "app": app},
            )

    def drop_app(self, app_id: str) -> None:
        """Forget the app and its devices."""
        app = self._apps.pop(app_id, None)
        if app is not None:
            self.tallies.pop(app, None)
            self.walks.pop(app, None)
            self._db.execute("DELETE FROM device WHERE app = ?", (app,))
            self._db.execute("DELETE FROM app WHERE id = ?", (app,))

    def app_field(self, app_id: str, column: str) -> int | None:
        """A column of the app's row (epoch ms), None for an app the index does not hold."""
        row = self._db.execute(f"SELECT {column} FROM app WHERE app_id = ?", (app_id,)).fetchone()
        return None if row is None else row[0]
