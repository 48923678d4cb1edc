"""The device store of one app: base devices derived from a hash, plus a small overlay.

A million devices cost nothing until asked for: device `i`'s fields are a pure function of
(seed, app salt, i), and its id starts with `i` in hex, so the default order (device_id
ascending) and the cursor are served in O(page). Writes (touch, add, channel overrides) live in
dicts keyed by index. Only the `updated_at` filter and `order=` need an index sorted by
updated_at, built lazily in O(N log N) and rebuilt after writes. A page's rows, the ground
truth's counts and that index draw many devices at once (device_draws, with numpy); one
device's fields are drawn here, and both read the tables in device_tables.
"""

from __future__ import annotations

import itertools
import random
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from capgo_exporter.sim.device_draws import CHUNK, DeviceDraws
from capgo_exporter.sim.device_tables import (
    BUILTIN_PER_MILLE,
    COUNTRIES,
    FORCED_PER_MILLE,
    H2_TWEAK,
    H3_TWEAK,
    ID_MULTIPLIER,
    INSTALL_SOURCES,
    NATIVE_BY_ROLL,
    OS_VERSIONS,
    PLATFORM_BY_ROLL,
    PLUGIN_BY_ROLL,
    WINDOW_MS,
    AppView,
    FactGroup,
    Facts,
    by_roll,
)
from capgo_exporter.sim.hashing import mix, splitmix64
from capgo_exporter.sim.timeutil import ms_iso_z, parse_updated_at

_INDEX_BITS = 24  # sort keys pack (updated_ms, index); 16.7M devices per app is plenty
_INDEX_MASK = (1 << _INDEX_BITS) - 1


def _format_id(index: int, hashes: tuple[int, int, int]) -> str:
    """A UUID-shaped device id that starts with `index` in hex (so ids sort by index)."""
    h, _, tail = hashes
    return (
        f"{index:08x}-{h >> 48:04x}-4{(h >> 36) & 0xFFF:03x}-"
        f"{8 | ((h >> 34) & 3):x}{(h >> 22) & 0xFFF:03x}-{tail & 0xFFFFFFFFFFFF:012x}"
    )


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
        self._version_by_roll = by_roll(table) if table else ()
        self._forced = tuple(forced_channels)
        self._draws = DeviceDraws(
            salt=self._salt,
            base_ms=base_ms,
            versions=self._versions,
            version_by_roll=self._version_by_roll,
            forced=self._forced,
        )
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
        h1 = splitmix64(self._salt ^ (index * ID_MULTIPLIER))
        h2 = splitmix64(h1 ^ H2_TWEAK)
        h3 = splitmix64(h1 ^ H3_TWEAK)
        return h1, h2, h3

    def facts(self, index: int) -> Facts:
        return self._facts(index, self._hashes(index))

    def _facts(self, index: int, hashes: tuple[int, int, int]) -> Facts:
        h1, h2, h3 = hashes
        platform = PLATFORM_BY_ROLL[h1 % 1000]
        native = NATIVE_BY_ROLL[(h1 >> 10) % 1000]
        if (h1 >> 20) % 1000 < BUILTIN_PER_MILLE or not self._versions:
            version_name = native if (h1 >> 30) & 1 else "builtin"
        else:
            version_name = self._version_by_roll[(h1 >> 31) % 1000]
        custom_id = f"user-{(h2 >> 8) % 100000:05d}" if h2 % 4 == 0 else ""
        channel = None
        if self._forced and (h2 >> 40) % 1000 < FORCED_PER_MILLE:
            channel = self._forced[(h2 >> 50) % len(self._forced)]
        facts = Facts(
            platform=platform,
            version_name=version_name,
            version_build=native,
            plugin_version=PLUGIN_BY_ROLL[(h2 >> 20) % 1000],
            is_prod=(h2 >> 30) % 100 >= 8,
            is_emulator=(h2 >> 37) % 100 < 3,
            updated_ms=self._base_ms - 1 - (h3 >> 8) % WINDOW_MS,
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
            "install_source": INSTALL_SOURCES[f.platform][(h2 >> 52) & 1],
            "version_name": f.version_name,
            "version": view.bundle_ids.get(f.version_name),
            "app_id": view.app_id,
            "platform": f.platform,
            "plugin_version": f.plugin_version,
            "os_version": OS_VERSIONS[f.platform][(h2 >> 54) % len(OS_VERSIONS[f.platform])],
            "version_build": f.version_build,
            "key_id": f"{self._salt & 0xFFFFFFFFFF:010x}" if (h2 >> 58) % 4 == 0 else None,
            # Lists leave the country out; a single lookup fills it.
            "country_code": COUNTRIES[(h2 >> 60) % 6] if single else None,
        }
        if f.channel is not None and f.channel in view.channels:
            row["channel"] = f.channel
        return row

    # -- many devices at once (device_draws) ---------------------------------------------

    def _overlay(self) -> set[int]:
        """Devices whose facts differ from their hashes: touched, added or overridden."""
        return self._patch.keys() | self._override.keys()

    def records(self, indices: Sequence[int], view: AppView) -> list[dict[str, Any]]:
        """``[record(i, view) for i in indices]``, the base rows drawn a column at a time."""
        rows = self._draws.rows(indices, view)
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
        for low in range(0, self._count, CHUNK):
            groups.update(
                self._draws.groups(low, min(low + CHUNK, self._count), thresholds, overlay)
            )
        groups.update(
            FactGroup.of(self.facts(index), thresholds) for index in overlay if index < self._count
        )
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
            upd = self._draws.updated_ms(self._count)
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
