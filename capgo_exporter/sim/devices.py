"""The device store of one app: base devices derived from a hash, plus a small overlay.

A million devices cost nothing until asked for: device `i`'s fields are a pure function of
(seed, app salt, i), and its id starts with `i` in hex, so the default order (device_id
ascending) and the cursor are served in O(page). Writes (touch, add, channel overrides) live in
dicts keyed by index. Only the `updated_at` filter and `order=` need an index sorted by
updated_at, built lazily in O(N log N) and rebuilt after writes.
"""

from __future__ import annotations

import itertools
import random
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from capgo_exporter.sim import device_columns as columns
from capgo_exporter.sim.device_columns import Hashes, bits
from capgo_exporter.sim.hashing import mix, splitmix64
from capgo_exporter.sim.timeutil import ms_iso_z, parse_updated_at

_INDEX_BITS = 24  # sort keys pack (updated_ms, index); 16.7M devices per app is plenty
_INDEX_MASK = (1 << _INDEX_BITS) - 1
_WINDOW_MS = 45 * 86_400_000  # base devices were last seen within the past 45 days
_FORCED_PER_MILLE = 20
_BUILTIN_PER_MILLE = 40
_PLATFORMS = (("ios", 520), ("android", 980), ("electron", 1000))  # cumulative per mille
_OS_VERSIONS = {
    "ios": ("17.5.1", "18.3.2", "18.6", "26.0.1"),
    "android": ("12", "13", "14", "15"),
    "electron": ("macOS 14.5", "Windows 11", "Ubuntu 24.04"),
}
_INSTALL_SOURCES = {
    "ios": ("app_store", "testflight"),
    "android": ("play_store", "sideload"),
    "electron": ("direct", "direct"),
}
_COUNTRIES = ("US", "FR", "DE", "BR", "IN", "JP")
NATIVE_VERSIONS = (("1.0.0", 150), ("1.1.0", 500), ("1.2.0", 1000))
PLUGIN_VERSIONS = (("5.10.1", 50), ("6.14.2", 300), ("7.0.1", 700), ("7.2.0", 1000))


def _pick(table: Sequence[tuple[str, int]], roll: int) -> str:
    for value, threshold in table:
        if roll < threshold:
            return value
    return table[-1][0]


def _by_roll(table: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """_pick for every roll of 0..999, looked up instead of searched: each device draws four
    values, and a million-device walk draws them for every row and again for the truth."""
    return tuple(_pick(table, roll) for roll in range(1000))


_PLATFORM_BY_ROLL = _by_roll(_PLATFORMS)
_NATIVE_BY_ROLL = _by_roll(NATIVE_VERSIONS)
_PLUGIN_BY_ROLL = _by_roll(PLUGIN_VERSIONS)


def _codes_by_roll(table: Sequence[tuple[str, int]]) -> NDArray[np.intp]:
    """_by_roll as positions in ``table``: the same draws for numpy (device_columns)."""
    names = [name for name, _ in table]
    return np.array([names.index(name) for name in _by_roll(table)], dtype=np.intp)


_PLATFORM_NAMES = tuple(name for name, _ in _PLATFORMS)
_NATIVE_NAMES = tuple(name for name, _ in NATIVE_VERSIONS)
_PLUGIN_NAMES = tuple(name for name, _ in PLUGIN_VERSIONS)
_PLATFORM_CODES = _codes_by_roll(_PLATFORMS)
_NATIVE_CODES = _codes_by_roll(NATIVE_VERSIONS)
_PLUGIN_CODES = _codes_by_roll(PLUGIN_VERSIONS)
_BUILTIN_CODE = len(_NATIVE_NAMES)  # version codes: the native versions, "builtin", bundles
# install_source and os_version tables flattened: a platform's entries start at its offset.
_INSTALL_FLAT = tuple(source for p in _PLATFORM_NAMES for source in _INSTALL_SOURCES[p])
_OS_FLAT = tuple(version for p in _PLATFORM_NAMES for version in _OS_VERSIONS[p])
_OS_COUNT = np.array([len(_OS_VERSIONS[p]) for p in _PLATFORM_NAMES], dtype=np.uint64)
_OS_OFFSET = np.cumsum([0, *(len(_OS_VERSIONS[p]) for p in _PLATFORM_NAMES)])[:-1]
_CHUNK = 1 << 18  # devices per numpy pass when a whole store is counted (bounded memory)


def _format_id(index: int, hashes: tuple[int, int, int]) -> str:
    """A UUID-shaped device id that starts with `index` in hex (so ids sort by index)."""
    h, _, tail = hashes
    return (
        f"{index:08x}-{h >> 48:04x}-4{(h >> 36) & 0xFFF:03x}-"
        f"{8 | ((h >> 34) & 3):x}{(h >> 22) & 0xFFF:03x}-{tail & 0xFFFFFFFFFFFF:012x}"
    )


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


class _Columns(NamedTuple):
    """Facts of many base devices as table positions (no overlay applied)."""

    platform: NDArray[np.intp]  # into _PLATFORM_NAMES
    version: NDArray[np.intp]  # into the store's _version_choices
    native: NDArray[np.intp]  # into _NATIVE_NAMES
    plugin: NDArray[np.intp]  # into _PLUGIN_NAMES
    is_prod: NDArray[np.bool_]
    is_emulator: NDArray[np.bool_]
    updated_ms: NDArray[np.int64]
    channel: NDArray[np.intp]  # into the store's forced channels, -1 for none


@dataclass(frozen=True)
class AppView:
    """Per-request lookups a device record needs from the rest of the app's state."""

    app_id: str
    bundle_ids: Mapping[str, int]  # version_name -> bundle id
    channels: frozenset[str]  # names of channels that exist now


class BadCursor(ValueError):
    pass


class DeviceStore:
    def __init__(
        self,
        *,
        seed: int,
        salt: int,
        base_count: int,
        base_ms: int,
        version_names: Sequence[str],
        forced_channels: Sequence[str],
    ) -> None:
        self._salt = mix(seed, salt, "devices")
        self._base_ms = base_ms
        self._count = base_count
        # Newest bundle first; weights halve down the list so most devices run recent bundles.
        weights = [2.0**-i for i in range(len(version_names))]
        total = sum(weights) or 1.0
        acc, table = 0.0, []
        for name, weight in zip(version_names, weights, strict=True):
            acc += weight
            table.append((name, round(1000 * acc / total)))
        self._versions: tuple[tuple[str, int], ...] = tuple(table)
        self._version_by_roll = _by_roll(table) if table else ()
        self._version_choices = (*_NATIVE_NAMES, "builtin", *(name for name, _ in table))
        self._version_codes = _BUILTIN_CODE + 1 + _codes_by_roll(table) if table else None
        self._forced = tuple(forced_channels)
        self._patch: dict[int, dict[str, Any]] = {}
        self._override: dict[int, str | None] = {}
        self._touches = 0
        self._upd: array[int] | None = None
        self._sorted: list[int] | None = None
        self._filter_cache: tuple[int, list[int]] | None = None
        self._active_cache: tuple[tuple[int, int, int], dict[str, int]] | None = None

    # -- identity -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._count

    @property
    def version_weights(self) -> tuple[tuple[str, int], ...]:
        """(version_name, cumulative per mille) the base devices were drawn from."""
        return self._versions

    def device_id(self, index: int) -> str:
        return _format_id(index, self._hashes(index))

    def index_of(self, device_id: str) -> int | None:
        try:
            index = int(device_id[:8], 16)
        except ValueError:
            return None
        if 0 <= index < self._count and self.device_id(index) == device_id:
            return index
        return None

    # -- fields ---------------------------------------------------------------------------

    def _hashes(self, index: int) -> tuple[int, int, int]:
        h1 = splitmix64(self._salt ^ (index * 0x100000001B3))
        h2 = splitmix64(h1 ^ 0x1234)
        h3 = splitmix64(h1 ^ 0x5A5A)
        return h1, h2, h3

    def facts(self, index: int) -> Facts:
        return self._facts(index, self._hashes(index))

    def _facts(self, index: int, hashes: tuple[int, int, int]) -> Facts:
        h1, h2, h3 = hashes
        platform = _PLATFORM_BY_ROLL[h1 % 1000]
        native = _NATIVE_BY_ROLL[(h1 >> 10) % 1000]
        if (h1 >> 20) % 1000 < _BUILTIN_PER_MILLE or not self._versions:
            version_name = native if (h1 >> 30) & 1 else "builtin"
        else:
            version_name = self._version_by_roll[(h1 >> 31) % 1000]
        custom_id = f"user-{(h2 >> 8) % 100000:05d}" if h2 % 4 == 0 else ""
        channel = None
        if self._forced and (h2 >> 40) % 1000 < _FORCED_PER_MILLE:
            channel = self._forced[(h2 >> 50) % len(self._forced)]
        facts = Facts(
            platform=platform,
            version_name=version_name,
            version_build=native,
            plugin_version=_PLUGIN_BY_ROLL[(h2 >> 20) % 1000],
            is_prod=(h2 >> 30) % 100 >= 8,
            is_emulator=(h2 >> 37) % 100 < 3,
            updated_ms=self._base_ms - 1 - (h3 >> 8) % _WINDOW_MS,
            custom_id=custom_id,
            channel=channel,
        )
        patch = self._patch.get(index)
        if patch:
            facts = facts._replace(**patch)
        if index in self._override:
            facts = facts._replace(channel=self._override[index])
        return facts

    def record(self, index: int, view: AppView, *, single: bool = False) -> dict[str, Any]:
        """The device object GET /device returns (Capgo's public/device/get.ts)."""
        hashes = self._hashes(index)
        f = self._facts(index, hashes)
        h2 = hashes[1]
        row: dict[str, Any] = {
            "updated_at": ms_iso_z(f.updated_ms),
            "device_id": _format_id(index, hashes),
            "custom_id": f.custom_id,
            "is_prod": f.is_prod,
            "is_emulator": f.is_emulator,
            "install_source": _INSTALL_SOURCES[f.platform][(h2 >> 52) & 1],
            "version_name": f.version_name,
            "version": view.bundle_ids.get(f.version_name),
            "app_id": view.app_id,
            "platform": f.platform,
            "plugin_version": f.plugin_version,
            "os_version": _OS_VERSIONS[f.platform][(h2 >> 54) % len(_OS_VERSIONS[f.platform])],
            "version_build": f.version_build,
            "key_id": f"{self._salt & 0xFFFFFFFFFF:010x}" if (h2 >> 58) % 4 == 0 else None,
            # Lists leave the country out; a single lookup fills it.
            "country_code": _COUNTRIES[(h2 >> 60) % 6] if single else None,
        }
        if f.channel is not None and f.channel in view.channels:
            row["channel"] = f.channel
        return row

    # -- many devices at once -------------------------------------------------------------

    def _columns(self, hashes: Hashes) -> _Columns:
        """_facts for every hashed index, as table positions (the overlay is not applied)."""
        h1, h2, h3 = hashes.h1, hashes.h2, hashes.h3
        native = _NATIVE_CODES[bits(h1, 10, 1000)]
        own_build = np.where(bits(h1, 30, 2) == 1, native, _BUILTIN_CODE)
        if self._version_codes is None:
            version = own_build
        else:
            drawn = self._version_codes[bits(h1, 31, 1000)]
            version = np.where(bits(h1, 20, 1000) < _BUILTIN_PER_MILLE, own_build, drawn)
        channel = np.full(len(h1), -1, dtype=np.intp)
        if self._forced:
            forced = bits(h2, 40, 1000) < _FORCED_PER_MILLE
            channel[forced] = bits(h2[forced], 50, len(self._forced))
        age = ((h3 >> np.uint64(8)) % np.uint64(_WINDOW_MS)).astype(np.int64)
        return _Columns(
            platform=_PLATFORM_CODES[bits(h1, 0, 1000)],
            version=version,
            native=native,
            plugin=_PLUGIN_CODES[bits(h2, 20, 1000)],
            is_prod=bits(h2, 30, 100) >= 8,
            is_emulator=bits(h2, 37, 100) < 3,
            updated_ms=self._base_ms - 1 - age,
            channel=channel,
        )

    def _overlay(self) -> set[int]:
        """Devices whose facts differ from their hashes: touched, added or overridden."""
        return self._patch.keys() | self._override.keys()

    def records(self, indices: Sequence[int], view: AppView) -> list[dict[str, Any]]:
        """``[record(i, view) for i in indices]``, the base fields drawn a column at a time."""
        if not indices:
            return []
        hashes = Hashes.of(self._salt, indices)
        c = self._columns(hashes)
        h2 = hashes.h2
        os_at = _OS_OFFSET[c.platform] + ((h2 >> np.uint64(54)) % _OS_COUNT[c.platform]).astype(
            np.intp
        )
        key_ids = np.full(len(indices), None, dtype=object)
        key_ids[bits(h2, 58, 4) == 0] = f"{self._salt & 0xFFFFFFFFFF:010x}"
        bundle_ids, app_id = view.bundle_ids, view.app_id
        fields = zip(
            columns.iso_z(c.updated_ms),
            columns.device_ids(hashes),
            columns.custom_ids(h2),
            c.is_prod.tolist(),
            c.is_emulator.tolist(),
            columns.pick(_INSTALL_FLAT, 2 * c.platform + bits(h2, 52, 2)),
            columns.pick(self._version_choices, c.version),
            columns.pick(_PLATFORM_NAMES, c.platform),
            columns.pick(_PLUGIN_NAMES, c.plugin),
            columns.pick(_OS_FLAT, os_at),
            columns.pick(_NATIVE_NAMES, c.native),
            key_ids.tolist(),
            strict=True,
        )
        rows: list[dict[str, Any]] = [
            {
                "updated_at": updated_at,
                "device_id": device_id,
                "custom_id": custom_id,
                "is_prod": is_prod,
                "is_emulator": is_emulator,
                "install_source": install_source,
                "version_name": version_name,
                "version": bundle_ids.get(version_name),
                "app_id": app_id,
                "platform": platform,
                "plugin_version": plugin_version,
                "os_version": os_version,
                "version_build": version_build,
                "key_id": key_id,
                "country_code": None,
            }
            for (
                updated_at,
                device_id,
                custom_id,
                is_prod,
                is_emulator,
                install_source,
                version_name,
                platform,
                plugin_version,
                os_version,
                version_build,
                key_id,
            ) in fields
        ]
        for position in np.flatnonzero(c.channel >= 0).tolist():
            channel = self._forced[c.channel[position]]
            if channel in view.channels:
                rows[position]["channel"] = channel
        overlay = self._overlay()
        if overlay:
            for position, index in enumerate(indices):
                if index in overlay:
                    rows[position] = self.record(index, view)
        return rows

    def fact_groups(self, thresholds: Sequence[int]) -> Counter[FactGroup]:
        """How many devices share each FactGroup, every device counted, overlay applied: what
        the ground truth's aggregates need, without a Python step per device."""
        groups: Counter[FactGroup] = Counter()
        overlay = self._overlay()
        shape = (
            len(_PLATFORM_NAMES),
            len(self._version_choices),
            len(_NATIVE_NAMES),
            len(_PLUGIN_NAMES),
            2,
            2,
            len(self._forced) + 1,
            2 ** len(thresholds),
        )
        for low in range(0, self._count, _CHUNK):
            high = min(low + _CHUNK, self._count)
            c = self._columns(Hashes.of(self._salt, range(low, high)))
            since = np.zeros(high - low, dtype=np.intp)
            for bit, threshold in enumerate(thresholds):
                since |= (c.updated_ms >= threshold).astype(np.intp) << bit
            keys = np.ravel_multi_index(
                (
                    c.platform,
                    c.version,
                    c.native,
                    c.plugin,
                    c.is_prod.astype(np.intp),
                    c.is_emulator.astype(np.intp),
                    c.channel + 1,
                    since,
                ),
                shape,
            )
            mine = [index - low for index in overlay if low <= index < high]
            keys = np.delete(keys, mine) if mine else keys
            found, counts = np.unique(keys, return_counts=True)
            for key, count in zip(found.tolist(), counts.tolist(), strict=True):
                at = [int(v) for v in np.unravel_index(key, shape)]
                group = FactGroup(
                    platform=_PLATFORM_NAMES[at[0]],
                    version_name=self._version_choices[at[1]],
                    version_build=_NATIVE_NAMES[at[2]],
                    plugin_version=_PLUGIN_NAMES[at[3]],
                    is_prod=bool(at[4]),
                    is_emulator=bool(at[5]),
                    channel=self._forced[at[6] - 1] if at[6] else None,
                    updated_since=tuple(bool(at[7] >> bit & 1) for bit in range(len(thresholds))),
                )
                groups[group] += count
        for index in overlay:
            if index < self._count:
                f = self.facts(index)
                since_each = tuple(f.updated_ms >= threshold for threshold in thresholds)
                groups[
                    FactGroup(
                        f.platform,
                        f.version_name,
                        f.version_build,
                        f.plugin_version,
                        f.is_prod,
                        f.is_emulator,
                        f.channel,
                        since_each,
                    )
                ] += 1
        return groups

    # -- writes ---------------------------------------------------------------------------

    def _set_updated(self, index: int, updated_ms: int) -> None:
        if self._upd is not None:
            if index < len(self._upd):
                self._upd[index] = updated_ms
            else:
                self._upd.append(updated_ms)
        self._sorted = None
        self._filter_cache = None
        self._active_cache = None

    def touch(self, n: int, now_ms: int, newest_names: Sequence[str]) -> list[int]:
        """Move `n` random devices to `now_ms`, usually onto another of the newest bundles."""
        self._touches += 1
        rng = random.Random(mix(self._salt, self._touches))
        picked = rng.sample(range(self._count), min(n, self._count))
        for index in picked:
            current = self.facts(index).version_name
            choices = [name for name in newest_names[:3] if name != current] or [current]
            self._patch[index] = {"updated_ms": now_ms, "version_name": rng.choice(choices)}
            self._set_updated(index, now_ms)
        return picked

    def add(self, n: int, now_ms: int) -> list[int]:
        if self._count + n > _INDEX_MASK:
            raise ValueError("too many devices for one app")
        added = list(range(self._count, self._count + n))
        self._count += n
        for index in added:
            self._patch[index] = {"updated_ms": now_ms}
            self._set_updated(index, now_ms)
        return added

    def set_override(self, index: int, channel: str | None) -> None:
        self._override[index] = channel

    # -- listing --------------------------------------------------------------------------

    def _updated_ms(self) -> array[int]:
        if self._upd is None:
            base = [
                self._columns(Hashes.of(self._salt, range(low, min(low + _CHUNK, self._count))))
                for low in range(0, self._count, _CHUNK)
            ]
            upd = np.concatenate([c.updated_ms for c in base] or [np.empty(0, np.int64)])
            for index, patch in self._patch.items():
                if "updated_ms" in patch:
                    upd[index] = patch["updated_ms"]
            self._upd = array("q", upd.tobytes())
        return self._upd

    def _sorted_keys(self) -> list[int]:
        if self._sorted is None:
            # A copy, not a view: the array grows when devices are added.
            upd = np.frombuffer(self._updated_ms(), dtype=np.int64).copy()
            order = np.argsort(upd, kind="stable")  # ties by index, as the packed keys sort
            self._sorted = [
                (ms << _INDEX_BITS) | index
                for ms, index in zip(upd[order].tolist(), order.tolist(), strict=True)
            ]
        return self._sorted

    def _by_id(self, start: int, after_ms: int | None) -> Iterator[int]:
        if after_ms is None:
            yield from range(start, self._count)
            return
        keys = self._sorted_keys()
        first = bisect_right(keys, (after_ms << _INDEX_BITS) | _INDEX_MASK)
        if (len(keys) - first) * 4 > len(keys):
            upd = self._updated_ms()  # most devices match: a plain scan is cheaper
            yield from (i for i in range(start, self._count) if upd[i] > after_ms)
            return
        if self._filter_cache is None or self._filter_cache[0] != after_ms:
            self._filter_cache = (after_ms, sorted(k & _INDEX_MASK for k in keys[first:]))
        candidates = self._filter_cache[1]
        yield from candidates[bisect_left(candidates, start) :]

    def _by_updated(self, after_key: int | None, after_ms: int | None, desc: bool) -> Iterator[int]:
        keys = self._sorted_keys()
        low = 0 if after_ms is None else bisect_right(keys, (after_ms << _INDEX_BITS) | _INDEX_MASK)
        if not desc:
            start = low if after_key is None else max(low, bisect_right(keys, after_key))
            yield from (keys[j] & _INDEX_MASK for j in range(start, len(keys)))
            return
        stop = len(keys) if after_key is None else bisect_left(keys, after_key)
        yield from (keys[j] & _INDEX_MASK for j in range(stop - 1, low - 1, -1))

    def page(
        self,
        view: AppView,
        *,
        limit: int,
        cursor: str | None,
        after_ms: int | None,
        order: str | None,
        custom_only: bool,
        row_cap: int | None = None,
        custom_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One cursor page: rows and the next cursor (None on the last page).

        Like Capgo, it fetches ``limit + 1`` rows to tell whether a next page exists; with
        `row_cap` that fetch is capped silently as Capgo's storages do (50,001 rows on Analytics
        Engine, 1,000 through PostgREST), so a large ``limit`` answers ``row_cap`` rows and no
        next page although more devices exist.
        """
        fetch = limit + 1 if row_cap is None else min(limit + 1, row_cap)
        if order is None:
            start = 0 if cursor is None else self._cursor_index(cursor) + 1
            indices = self._by_id(start, after_ms)
        else:
            key = None
            if cursor is not None:
                index = self._cursor_index(cursor)
                key = (self._cursor_ms(cursor) << _INDEX_BITS) | index
            indices = self._by_updated(key, after_ms, desc=order == "desc")
        if custom_only or custom_id is not None:
            indices = (i for i in indices if self._custom_match(i, custom_id))
        picked = list(itertools.islice(indices, fetch))  # one extra row: is there a next page?
        rows = self.records(picked[:limit], view)
        if len(picked) <= limit:
            return rows, None
        return rows, f"{rows[-1]['updated_at']}|{rows[-1]['device_id']}"

    def _custom_match(self, index: int, custom_id: str | None) -> bool:
        """customIdMode keeps devices with a custom id; custom_id, that exact one."""
        value = self.facts(index).custom_id
        return bool(value) if custom_id is None else value == custom_id

    def active_by_platform(self, start_ms: int, end_ms: int) -> dict[str, int]:
        """Devices updated within [start_ms, end_ms), per platform (newer Capgo's
        activeDevices). Cached until a device changes."""
        key = (start_ms, end_ms, self._count)
        if self._active_cache is None or self._active_cache[0] != key:
            keys = self._sorted_keys()
            low = bisect_left(keys, start_ms << _INDEX_BITS)
            high = bisect_left(keys, end_ms << _INDEX_BITS)
            counts: dict[str, int] = {}
            for j in range(low, high):
                platform = self.facts(keys[j] & _INDEX_MASK).platform
                counts[platform] = counts.get(platform, 0) + 1
            self._active_cache = (key, counts)
        return dict(self._active_cache[1])

    def _cursor_index(self, cursor: str) -> int:
        index = self.index_of(cursor.rpartition("|")[2])
        if index is None:
            raise BadCursor(cursor)
        return index

    @staticmethod
    def _cursor_ms(cursor: str) -> int:
        ms = parse_updated_at(cursor.rpartition("|")[0])
        if ms is None:
            raise BadCursor(cursor)
        return ms
