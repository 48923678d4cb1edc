"""Daily statistics of an app, derived from the seed (usage) and from its bundles (storage)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from capgo_exporter.sim.device_tables import NATIVE_VERSIONS
from capgo_exporter.sim.hashing import mix
from capgo_exporter.sim.model import Bundle


class AppSeries:
    """Usage figures per (app, day) are a hash of both, so any date range costs O(days)."""

    def __init__(
        self, *, seed: int, salt: int, first_day: date, devices: int, bundles: list[Bundle]
    ) -> None:
        self._salt = mix(seed, salt, "stats")
        self._first_day = first_day
        self._daily_new = max(1, devices // 40)
        self._bundles = bundles  # the app's live list: deletions show up in storage at once

    def new_mau(self, day: date) -> int:
        """Devices first seen that day."""
        if day < self._first_day:
            return 0
        h = mix(self._salt, day.toordinal(), 1)
        weekend = 0.6 if day.weekday() >= 5 else 1.0
        return int(self._daily_new * weekend * (0.5 + (h % 1000) / 1000))

    def bandwidth(self, day: date) -> int:
        if day < self._first_day:
            return 0
        h = mix(self._salt, day.toordinal(), 2)
        return self.new_mau(day) * (3_000_000 + h % 4_000_000)

    def build_time(self, day: date) -> int:
        if day < self._first_day:
            return 0
        h = mix(self._salt, day.toordinal(), 3)
        return 300 + h % 900 if h % 5 == 0 else 0

    def storage(self, day: date) -> int:
        """Bytes stored at the end of that day."""
        total = 0
        for bundle in self._bundles:
            if bundle.created_at.date() > day:
                continue
            if bundle.deleted_at is not None and bundle.deleted_at.date() <= day:
                continue
            total += bundle.size
        return total

    def update_checks(self, day: date, names: Sequence[tuple[str, int]]) -> dict[str, int]:
        """Update checks per version_name that day, spread like the device population."""
        active = self._daily_new * 3
        counts: dict[str, int] = {}
        previous = 0
        for position, (name, cumulative) in enumerate(names):
            share = cumulative - previous
            previous = cumulative
            jitter = 0.8 + (mix(self._salt, day.toordinal(), position) % 400) / 1000
            counts[name] = int(active * share / 1000 * jitter) if day >= self._first_day else 0
        return counts

    def native_checks(self, day: date) -> dict[tuple[str, str], int]:
        """Update checks per (platform, native version) that day."""
        platforms = (("ios", 520), ("android", 460), ("electron", 20))
        counts: dict[tuple[str, str], int] = {}
        for platform, platform_share in platforms:
            previous = 0
            for version, cumulative in NATIVE_VERSIONS:
                share = (cumulative - previous) * platform_share / 1000
                previous = cumulative
                jitter = 0.8 + (mix(self._salt, day.toordinal(), platform, version) % 400) / 1000
                active = self._daily_new * 3 * share / 1000 * jitter
                counts[(platform, version)] = int(active) if day >= self._first_day else 0
        return counts
