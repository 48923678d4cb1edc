"""An app's aggregates from the device index: its tally, and one scan for the seen windows.

Every aggregate but the seen windows is a sum over the app's devices per profile, which its
tally holds (`tally.DeviceTally`, kept up to date page by page: a GROUP BY over a million rows
sorts them all, half a second each run). The tally counts whole hours of ``updated_at``; the
hour each window (1, 7, 30 days) starts in is counted exactly, from what the last full walk
kept of it (the first summary after the walk) or from one scan of the app's rows in those
hours, with no sort. A tally is counted from the rows only after a start, or when a full walk
got a device twice.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime

from capgo_exporter.collect.devices.aggregates import SEEN_WINDOWS, AppDevices, aggregate
from capgo_exporter.collect.devices.columns import to_ms
from capgo_exporter.collect.devices.generations import Generations
from capgo_exporter.collect.devices.profiles import Profiles
from capgo_exporter.collect.devices.tally import HOUR_MS, DeviceTally


class Summaries:
    """Reads the ``device`` table and the tallies. The caller holds the index's lock."""

    def __init__(
        self, db: sqlite3.Connection, profiles: Profiles, generations: Generations
    ) -> None:
        self._db = db
        self._profiles = profiles
        self._generations = generations

    def summarize(self, app_id: str, now: datetime) -> AppDevices:
        app = self._generations.number(app_id)
        if app is None:
            return AppDevices()
        tally = self._generations.tallies.get(app) or self._tally_from_rows(app)
        counts = tally.profiles
        present = {self._profiles.platform(p) for p in counts}
        values = self._profiles.values
        return aggregate(
            ((values[p], n) for p, n in counts.items()), self._seen(app, tally, present, now)
        )

    def _tally_from_rows(self, app: int) -> DeviceTally:
        """The app's tally counted from its rows (a sort of them all: once after a start, or
        after a walk that counted a device twice), kept unless a full walk is going on."""
        tally = DeviceTally()
        # Hours rounded down, negative times included, as `DeviceTally` counts them.
        groups = self._db.execute(
            "SELECT profile,"
            " (updated_ms - ((updated_ms % :hour) + :hour) % :hour) / :hour, count(*)"
            " FROM device WHERE app = :app GROUP BY 1, 2",
            {"hour": HOUR_MS, "app": app},
        ).fetchall()
        tally.add_groups(groups, self._profiles.codes())
        (tally.newest,) = self._db.execute(
            "SELECT max(updated_ms) FROM device WHERE app = ?", (app,)
        ).fetchone()
        if app not in self._generations.walks:
            self._generations.tallies[app] = tally
        return tally

    def _seen(
        self, app: int, tally: DeviceTally, present: set[str], now: datetime
    ) -> dict[str, Counter[str]]:
        """Devices per platform seen in each window, every platform ``present`` included:
        whole hours from the tally, and the rows of the hour each window starts in counted one
        by one (a scan of the app's rows, skipped when the tally has none in those hours)."""
        labels = self._profiles.labels
        starts = {window: to_ms(now - span) for window, span in SEEN_WINDOWS.items()}
        seen = {window: Counter(dict.fromkeys(present, 0)) for window in SEEN_WINDOWS}
        edges: dict[int, list[tuple[str, int]]] = {}  # edge hour -> (window, since)
        for window, since in starts.items():
            after, at_edge = tally.seen_since(since, labels)
            seen[window].update(after)
            walked = tally.edge_from_walk(since, labels)  # first summary after a walk
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
        platform = self._profiles.platform
        for profile, ms in rows:
            for window, since in edges.get(ms // HOUR_MS, ()):
                if ms >= since:
                    seen[window][platform(profile)] += 1
        return seen
