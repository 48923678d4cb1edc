"""The device rows: a page of GET /device stored in one go, the app's tallies kept in step.

The exporter's hot path (benchmarks/bench_devices.py): one tuple lookup a device for its
profile (`profiles`), keys and timestamps converted a page at a time (`columns`), multi-row
INSERTs with three values bound a device. A fresh full walk (see `generations.Walk`) only
inserts; any other page replaces the rows of devices stored before, and takes them out of the
app's tally before counting them again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from capgo_exporter.api.device_rows import DeviceRow
from capgo_exporter.collect.devices.columns import device_keys, epoch_ms_column
from capgo_exporter.collect.devices.generations import Generations
from capgo_exporter.collect.devices.profiles import Profiles

_BATCH: Final = 1000  # rows per INSERT: 3,000 parameters, under SQLite's 32,766
_LOOKUP_BATCH: Final = 900  # keys per SELECT ... IN (...)
Stamps = npt.NDArray[np.int64] | list[int | None]


@lru_cache(maxsize=16)
def _insert_sql(verb: str, rows: int, app: int, generation: int) -> str:
    # App and generation are the same for a whole page: written into the statement (they are
    # our own integers), three values a row are bound instead of five, a fifth less time.
    return f"{verb} INTO device VALUES " + ",".join([f"({app}, ?, ?, ?, {generation})"] * rows)


class RowStore:
    """The ``device`` table. The caller holds the index's lock and its transaction."""

    def __init__(
        self, db: sqlite3.Connection, profiles: Profiles, generations: Generations
    ) -> None:
        self._db = db
        self._profiles = profiles
        self._generations = generations

    def store_page(self, app: int, generation: int, rows: Sequence[DeviceRow]) -> None:
        """Store one page of rows of the app (each with a string device_id; any other field
        may be missing, null or of another type) under its current generation."""
        profiles = self._profiles.ids(rows)
        keys = device_keys([row.device_id for row in rows])
        stamps = epoch_ms_column([row.updated_at for row in rows])
        stamp_values = stamps.tolist() if isinstance(stamps, np.ndarray) else stamps
        values = list(chain.from_iterable(zip(keys, profiles, stamp_values, strict=True)))
        try:
            self._count(app, keys, profiles, stamps)
            self._store(app, generation, values)
        except BaseException:
            # The caller's transaction rolls the page back; the tallies may have counted it.
            self._generations.distrust_counts(app)
            raise

    def _store(self, app: int, generation: int, values: list[Any]) -> None:
        walk = self._generations.walks.get(app)
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

    def _count(self, app: int, keys: list[int], profiles: list[int], stamps: Stamps) -> None:
        """Keep the app's tallies in step with the page about to be stored."""
        walk = self._generations.walks.get(app)
        if walk is not None:  # duplicates across a walk are caught when it finishes
            walk.tally.add(profiles, stamps, self._profiles.codes())
            return
        tally = self._generations.tallies.get(app)
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
            tally.add(old_profiles, list(old_stamps), self._profiles.codes(), sign=-1)
        tally.add(profiles, stamps, self._profiles.codes())

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
