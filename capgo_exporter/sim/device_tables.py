"""What a simulated device is drawn from, and the shapes its draws take.

Device `i` of a store draws every field from three hashes of (store salt, i): rolls of 0..999
looked up in these cumulative per-mille tables, and a few bits. The per-device path
(devices.DeviceStore) and the column-at-a-time path (device_draws.DeviceDraws) read the same
tables, so they cannot disagree on what a roll means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

# Device i's three hashes: h1 = splitmix64(salt ^ (i * ID_MULTIPLIER)), then h2 and h3 from h1
# xor these tweaks (DeviceStore._hashes one device at a time, device_columns.Hashes many).
ID_MULTIPLIER = 0x100000001B3
H2_TWEAK = 0x1234
H3_TWEAK = 0x5A5A
WINDOW_MS = 45 * 86_400_000  # base devices were last seen within the past 45 days
FORCED_PER_MILLE = 20
BUILTIN_PER_MILLE = 40
PLATFORMS = (("ios", 520), ("android", 980), ("electron", 1000))  # cumulative per mille
OS_VERSIONS = {
    "ios": ("17.5.1", "18.3.2", "18.6", "26.0.1"),
    "android": ("12", "13", "14", "15"),
    "electron": ("macOS 14.5", "Windows 11", "Ubuntu 24.04"),
}
INSTALL_SOURCES = {
    "ios": ("app_store", "testflight"),
    "android": ("play_store", "sideload"),
    "electron": ("direct", "direct"),
}
COUNTRIES = ("US", "FR", "DE", "BR", "IN", "JP")
NATIVE_VERSIONS = (("1.0.0", 150), ("1.1.0", 500), ("1.2.0", 1000))
PLUGIN_VERSIONS = (("5.10.1", 50), ("6.14.2", 300), ("7.0.1", 700), ("7.2.0", 1000))


def pick(table: Sequence[tuple[str, int]], roll: int) -> str:
    for value, threshold in table:
        if roll < threshold:
            return value
    return table[-1][0]


def by_roll(table: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """pick for every roll of 0..999, looked up instead of searched: each device draws four
    values, and a million-device walk draws them for every row and again for the truth."""
    return tuple(pick(table, roll) for roll in range(1000))


PLATFORM_BY_ROLL = by_roll(PLATFORMS)
NATIVE_BY_ROLL = by_roll(NATIVE_VERSIONS)
PLUGIN_BY_ROLL = by_roll(PLUGIN_VERSIONS)


class Facts(NamedTuple):
    """What aggregates need from one device (current values, overlay applied)."""

    platform: str
    version_name: str
    version_build: str
    plugin_version: str
    is_prod: bool
    is_emulator: bool
    updated_ms: int
    custom_id: str
    channel: str | None  # forced channel override (may name a channel that no longer exists)


class FactGroup(NamedTuple):
    """Devices that agree on everything an aggregate counts (DeviceStore.fact_groups)."""

    platform: str
    version_name: str
    version_build: str
    plugin_version: str
    is_prod: bool
    is_emulator: bool
    channel: str | None
    updated_since: tuple[bool, ...]  # updated_ms >= each threshold asked for

    @classmethod
    def of(cls, f: Facts, thresholds: Sequence[int]) -> FactGroup:
        since = tuple(f.updated_ms >= threshold for threshold in thresholds)
        return cls(
            f.platform,
            f.version_name,
            f.version_build,
            f.plugin_version,
            f.is_prod,
            f.is_emulator,
            f.channel,
            since,
        )


@dataclass(frozen=True)
class AppView:
    """Per-request lookups a device record needs from the rest of the app's state."""

    app_id: str
    bundle_ids: Mapping[str, int]  # version_name -> bundle id
    channels: frozenset[str]  # names of channels that exist now
