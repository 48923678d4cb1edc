"""The device index: every device Capgo knows, reduced to the few fields we aggregate on.

Counting devices means walking ``GET /device`` (the API has no count), so the exporter keeps
what it walked in SQLite: ``devices.sqlite3`` in the state directory (a restart then does not
re-walk a million devices), or ``:memory:`` when none is set. Rows are kept small so a million
devices fit the memory target (≤ 150 MB RSS): about 28 bytes a device on disk (`schema`).

`DeviceIndex` is the one entry point, made of a part per job, each over the same connection:

- `schema`: the tables, and the connection to them;
- `profiles.Profiles`: each combination of the fields we aggregate on, stored once;
- `rows.RowStore`: pages of devices stored, the app's tallies kept in step;
- `generations.Generations`: the apps, their full walks (generations) and high-water marks;
- `summaries.Summaries`: an app's aggregates, from its tally and one scan.

Every method is thread-safe (one lock) so the collector can run them in worker threads; each
one that writes is one transaction. The parts rely on both: none takes the lock or commits.

A write that fails (disk full, I/O error, a read-only file) is rolled back and raised as
`StateDirWriteError`, an OSError, so the devices run fails like any run: its collector_up goes to
0, its last figures are served until their max age, and the next run tries again. The first
failure is logged with the file and the free space left on its disk; the next ones are not,
until a write succeeds. Closing the index never raises: what it could not fold back into the
file stays in the write-ahead log, where SQLite finds it at the next start.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from capgo_exporter.api.device_rows import DeviceRow, row_from_mapping
from capgo_exporter.collect.devices.aggregates import AppDevices
from capgo_exporter.collect.devices.columns import from_ms
from capgo_exporter.collect.devices.corrupt_copies import prune_corrupt_copies, set_aside_name
from capgo_exporter.collect.devices.generations import Generations
from capgo_exporter.collect.devices.lookup import production_devices
from capgo_exporter.collect.devices.profiles import Profiles
from capgo_exporter.collect.devices.rows import RowStore
from capgo_exporter.collect.devices.schema import FILE_NAME, connect
from capgo_exporter.collect.devices.summaries import Summaries
from capgo_exporter.state_dir import StateDirWriteError

__all__ = ["FILE_NAME", "DeviceIndex"]

_log = structlog.get_logger("capgo_exporter.devices")


class DeviceIndex:
    def __init__(self, path: Path | None = None) -> None:
        """An index in the SQLite file `path`, or in memory when None."""
        self._lock = threading.Lock()
        self._path = path
        self._file = path is not None
        self._write_failing = False  # logged once per run of failures
        self._db = connect(path)
        self._profiles = Profiles(self._db)
        self._generations = Generations(self._db)
        self._rows = RowStore(self._db, self._profiles, self._generations)
        self._summaries = Summaries(self._db, self._profiles, self._generations)
        self._closed = False

    @classmethod
    def open(
        cls, state_dir: Path | None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> DeviceIndex:
        """The index of ``state_dir``. It is a cache of what Capgo knows: a file SQLite cannot
        read is set aside (renamed ``*.<UTC time>.corrupt``, the last few kept,
        so a second corruption does not erase the evidence of the first) and the index is
        rebuilt by a full walk. A file that cannot be written (a full disk) is no corrupt file:
        StateDirWriteError, and it is left as it is."""
        if state_dir is None:
            return cls(None)
        path = state_dir / FILE_NAME
        try:
            return cls(path)
        except sqlite3.OperationalError as error:
            raise StateDirWriteError(f"device index {path} cannot be opened: {error}") from None
        except sqlite3.DatabaseError as error:
            aside = set_aside_name(path, now())
            path.replace(aside)
            prune_corrupt_copies(path)
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            _log.warning(
                "device index unreadable; set aside, rebuilding from Capgo",
                path=str(path),
                moved_to=str(aside),
                error=str(error),
            )
            return cls(path)

    # -- writing -----------------------------------------------------------------------------

    def upsert_rows(self, app_id: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """`upsert_devices` for rows decoded as plain JSON objects (rows without a string
        device_id are skipped)."""
        devices = [row for row in map(row_from_mapping, rows) if row is not None]
        self.upsert_devices(app_id, devices)

    def upsert_devices(self, app_id: str, rows: Sequence[DeviceRow]) -> None:
        """Store one page of GET /device rows in one transaction. Rows need a string
        device_id; any other field may be missing, null or of another type."""
        with self._writing():
            app, generation = self._generations.app(app_id)
            self._rows.store_page(app, generation, rows)

    def begin_full_sync(self, app_id: str, now: datetime | None = None) -> None:
        """Start a full walk: rows stored from now on carry a new generation. With ``now``,
        the first summary after it counts the seen windows from what it stored."""
        with self._writing():
            self._generations.begin_full_sync(app_id, now)

    def finish_full_sync(self, app_id: str, started: datetime) -> int:
        """The full walk that began at `started` completed: delete the devices it did not
        return (Capgo forgot them) and move the high-water mark. Returns how many went."""
        with self._writing():
            return self._generations.finish_full_sync(app_id, started)

    def finish_incremental_sync(self, app_id: str, started: datetime) -> None:
        """The walk of devices changed since the mark, begun at `started`, completed."""
        with self._writing():
            self._generations.finish_incremental_sync(app_id, started)

    def drop_app(self, app_id: str) -> None:
        """The app is gone (or no longer selected): forget it and its devices."""
        with self._writing():
            self._generations.drop_app(app_id)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction under the lock; a failed write becomes StateDirWriteError."""
        with self._lock:
            try:
                with self._db:
                    yield
            except sqlite3.OperationalError as error:
                raise self._write_failed(error) from None
            self._write_failing = False

    def _write_failed(self, error: sqlite3.Error) -> StateDirWriteError:
        where = str(self._path) if self._path is not None else "in memory"
        if not self._write_failing:
            self._write_failing = True
            free = None
            if self._path is not None:
                with contextlib.suppress(OSError):
                    free = shutil.disk_usage(self._path.parent).free
            _log.error(
                "device index cannot be written; device figures stop being refreshed",
                path=where,
                error=str(error),
                free_bytes=free,
            )
        return StateDirWriteError(f"device index {where} cannot be written: {error}")

    # -- reading -----------------------------------------------------------------------------

    def app_ids(self) -> list[str]:
        with self._lock:
            return self._generations.app_ids()

    def high_water_mark(self, app_id: str) -> datetime | None:
        with self._lock:
            ms = self._generations.app_field(app_id, "high_water_ms")
        return None if ms is None else from_ms(ms)

    def last_full_sync(self, app_id: str) -> datetime | None:
        with self._lock:
            ms = self._generations.app_field(app_id, "last_full_sync_ms")
        return None if ms is None else from_ms(ms)

    def walked(self, app_id: str) -> bool:
        """Whether a full walk of the app has completed: the index knows its fleet."""
        return self.last_full_sync(app_id) is not None

    def production_devices(self, app_id: str, device_ids: Collection[str]) -> set[str]:
        """The ids among ``device_ids`` stored as is_prod and not is_emulator."""
        with self._lock:
            app = self._generations.number(app_id)
            return set() if app is None else production_devices(self._db, app, device_ids)

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
            return self._summaries.summarize(app_id, now)

    def close(self) -> None:
        """Commit and release the file (its WAL folded back in, so the file stands alone)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._db.commit()
                if self._file:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as error:
                self._write_failed(error)  # logged, unless it was already
            finally:
                self._db.close()
