"""Profiles: each combination of the fields the index aggregates on, stored once as a number.

A profile is a device's platform, bundle, native and plugin versions, channel override,
is_prod and is_emulator (`aggregates.Profile`); a fleet has a few thousand, so a device row
holds the profile's number instead of its values. Looking a page's profiles up is the hot
path of a walk: one dict lookup a device, by the tuple of its raw values, whose strings are
interned (the decoder hands out one string object per value, and the values kept here are
interned too), so the lookup compares them by identity. Values are checked and canonicalized
only when a combination is new.

Each profile's platform label is also kept as a number, for tallies that count devices per
platform in array operations (`tally.PlatformCodes`).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from contextlib import suppress
from operator import attrgetter
from typing import Any, Final

import numpy as np

from capgo_exporter.api.device_rows import DeviceRow
from capgo_exporter.collect.devices.aggregates import Profile
from capgo_exporter.collect.devices.tally import PlatformCodes
from capgo_exporter.collect.labels import text

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
    # Older Capgo servers sent a device's bundle as version: {id, name}, without version_name.
    version = row.version
    return version.get("name") if isinstance(version, dict) else None


class Profiles:
    """Every profile of the ``profile`` table, by its values and by its number. The caller
    holds the index's lock, and its transaction when new profiles may be stored."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        # By raw JSON values (the hot path) and canonical values, and by number (aggregates).
        self._by_values: dict[tuple[Any, ...], int] = {}
        self.values: dict[int, Profile] = {}
        # Platform labels in the order first seen (numbers never reused), and each profile
        # number's label number; as an array when needed (`codes`).
        self.labels: list[str] = []
        self._label_numbers: dict[str, int] = {}
        self._platforms: list[int] = []
        self._codes: PlatformCodes | None = None
        for profile_id, *values in db.execute("SELECT * FROM profile"):
            self._remember(profile_id, _stored(values))

    def ids(self, rows: Sequence[DeviceRow]) -> list[int]:
        """The profile number of every row, storing the profiles not seen before."""
        by_values = self._by_values
        try:
            # Each row's tuple of values is dropped as soon as it is looked up: 50,000 kept
            # alive at once would set off a dozen garbage collections a page.
            found: list[int | None] = list(map(by_values.get, map(_PROFILE_FIELDS, rows)))
        except TypeError:  # an unhashable value (a nested object) somewhere in the page
            found = [None] * len(rows)
        if None not in found:
            return found  # type: ignore[return-value]  # no None left: list[int]
        ids: list[int] = []
        for row, profile in zip(rows, found, strict=True):
            if profile is None:
                raw = _PROFILE_FIELDS(row)
                try:
                    profile = by_values[raw]  # new a few rows ago
                except (KeyError, TypeError):
                    profile = self._new(row, raw)
            ids.append(profile)
        return ids

    def platform(self, profile: int) -> str:
        """The platform label of a profile number."""
        return self.labels[self._platforms[profile]]

    def codes(self) -> PlatformCodes:
        """Every profile's platform label number, as an array."""
        if self._codes is None:
            self._codes = PlatformCodes(self.labels, np.array(self._platforms, dtype=np.int64))
        return self._codes

    def _new(self, row: DeviceRow, raw: tuple[Any, ...]) -> int:
        bundle = raw[1]
        if bundle is None:
            bundle = _bundle_name(row)
        canonical = _canonical((raw[0], bundle, *raw[2:]))
        profile = self._by_values.get(canonical)
        if profile is None:
            cursor = self._db.execute(
                "INSERT INTO profile VALUES (NULL, ?, ?, ?, ?, ?, ?, ?)", canonical
            )
            profile = cursor.lastrowid
            assert profile is not None  # an INSERT always sets it
            self._remember(profile, canonical)
        # Remember the raw values so the next identical row is a hit: not when the bundle came
        # from elsewhere in the row, nor when a value is unhashable.
        if raw[1] is not None:
            with suppress(TypeError):
                self._by_values[tuple(_interned(value) for value in raw)] = profile
        return profile

    def _remember(self, profile_id: int, profile: Profile) -> None:
        self._by_values[profile] = profile_id
        self.values[profile_id] = profile
        label = text(profile[0])
        if label not in self._label_numbers:
            self._label_numbers[label] = len(self.labels)
            self.labels.append(label)
        if len(self._platforms) <= profile_id:  # numbers no profile has: label 0, never read
            self._platforms += [0] * (profile_id + 1 - len(self._platforms))
        self._platforms[profile_id] = self._label_numbers[label]
        self._codes = None
