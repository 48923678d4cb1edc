"""An app's devices counted the way the index's aggregates need them, kept up to date page by
page, so aggregating a million devices is not a sort of a million rows every run.

Every aggregate but the seen windows is a sum over profiles: the tally keeps devices per
profile. The seen windows (devices whose ``updated_at`` is within 1, 7 or 30 days, per
platform) are kept as devices per (platform, hour of ``updated_at``): every hour after the one
a window starts in counts whole, and that one hour is counted exactly by the index from its
rows (`DeviceIndex.summarize`), a scan with no sort. Memory: a few thousand entries an app.

Counts are NumPy arrays, and a page is counted in a few array operations whatever its size: a
page of 999 devices spread over 45 days has as many (platform, hour) buckets as devices, and
counting them one by one in Python cost a microsecond a device. A page's buckets wait in a
list and are merged with the others when they add up to more than the counts themselves.

A full walk's tally also keeps the platform and exact time of the devices it counted in the
hours the windows start in when it began, and the hour after (`walked`: a few percent of the
devices, at most): the first summary after the walk, within an hour of its start, counts those
hours from them instead of scanning the index, and drops them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

HOUR_MS: Final = 3_600_000
# A (platform, hour) bucket is the number hour * LABELS + platform number.
LABELS: Final = 1 << 16

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PlatformCodes:
    """Every profile's platform label as a number (``labels[of_profile[profile]]``). Numbers
    are never reused for another label: ``labels`` only grows."""

    labels: Sequence[str]
    of_profile: Ints


class DeviceTally:
    """Devices per profile and per (platform, hour of updated_at); `newest` is the newest
    updated_at ever counted (what the high-water mark needs: it never goes backwards)."""

    def __init__(self, window_starts: Sequence[int] | None = None) -> None:
        """With ``window_starts`` (epoch ms, when a full walk begins): a walk's tally, which
        keeps the devices of those hours and the next until `edge_from_walk`."""
        self.newest: int | None = None
        self._profiles: Ints = np.zeros(0, dtype=np.int64)  # devices per profile number
        self._buckets: Ints = np.zeros(0, dtype=np.int64)  # sorted, unique
        self._bucket_counts: Ints = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[Ints, Ints]] = []
        self._pending_size = 0
        self.watched: Ints | None = None
        self.walked: list[tuple[Ints, Ints]] | None = None  # per page: label numbers, times
        if window_starts is not None:
            hours = {start // HOUR_MS + later for start in window_starts for later in (0, 1)}
            self.watched = np.array(sorted(hours), dtype=np.int64)
            self.walked = []

    @property
    def profiles(self) -> dict[int, int]:
        """Devices per profile number, for the profiles the app has."""
        present = np.flatnonzero(self._profiles)
        return dict(zip(present.tolist(), self._profiles[present].tolist(), strict=True))

    @property
    def total(self) -> int:
        return int(self._profiles.sum())

    def add(
        self,
        profiles: Sequence[int],
        stamps: Ints | Sequence[int | None],
        platforms: PlatformCodes,
        sign: int = 1,
    ) -> None:
        """Count (``sign`` 1) or uncount (-1) devices: their profiles and their updated_at in
        epoch ms (None: unknown). Only a walk's tally adds devices before its first summary:
        any other change means what the walk kept no longer describes the app."""
        if sign < 0:
            self.walked = None
        profile_ids = np.asarray(profiles, dtype=np.int64)
        if len(profile_ids):
            self._add_profiles(sign * np.bincount(profile_ids))
        if isinstance(stamps, np.ndarray):
            known, ms = profile_ids, stamps
        else:
            mask = np.array([s is not None for s in stamps], dtype=bool)
            known = profile_ids[mask]
            ms = np.array([s for s in stamps if s is not None], dtype=np.int64)
        if len(ms):
            self._add_hours(platforms.of_profile[known], ms, sign)
            if sign > 0:
                newest = int(ms.max())
                self.newest = newest if self.newest is None else max(self.newest, newest)

    def add_groups(
        self, groups: Sequence[tuple[int, int | None, int]], platforms: PlatformCodes
    ) -> None:
        """Count devices already grouped: (profile, hour of updated_at or None, devices)."""
        if not groups:
            return
        profile, _, count = zip(*groups, strict=True)
        self._add_profiles(np.bincount(profile, weights=count).astype(np.int64))
        dated = [(p, h, n) for p, h, n in groups if h is not None]
        if dated:
            profiles, hours, counts = (
                np.array(c, dtype=np.int64) for c in zip(*dated, strict=True)
            )
            self._pending.append((hours * LABELS + platforms.of_profile[profiles], counts))
            self._pending_size += len(counts)

    def _add_profiles(self, counted: Ints) -> None:
        """Add ``counted[profile]`` devices to each profile."""
        if len(counted) > len(self._profiles):
            self._profiles = np.pad(self._profiles, (0, len(counted) - len(self._profiles)))
        self._profiles[: len(counted)] += counted

    def _add_hours(self, codes: Ints, ms: Ints, sign: int) -> None:
        hours = ms // HOUR_MS
        if self.walked is not None and self.watched is not None:
            kept = np.isin(hours, self.watched)
            if kept.any():
                self.walked.append((codes[kept], ms[kept]))
        buckets, counts = np.unique(hours * LABELS + codes, return_counts=True)
        self._pending.append((buckets, sign * counts))
        self._pending_size += len(buckets)
        if self._pending_size > max(4096, 2 * len(self._buckets)):
            self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        buckets = np.concatenate([self._buckets, *(b for b, _ in self._pending)])
        counts = np.concatenate([self._bucket_counts, *(c for _, c in self._pending)])
        self._pending, self._pending_size = [], 0
        unique, where = np.unique(buckets, return_inverse=True)
        summed = np.bincount(where, weights=counts, minlength=len(unique)).astype(np.int64)
        kept = summed != 0
        self._buckets, self._bucket_counts = unique[kept], summed[kept]

    def seen_since(self, since_ms: int, labels: Sequence[str]) -> tuple[Counter[str], bool]:
        """Devices per platform whose hour is wholly at or after ``since_ms``, and whether any
        device is in the hour ``since_ms`` falls in (the caller's to count exactly)."""
        self._merge()
        edge = since_ms // HOUR_MS
        hours = self._buckets // LABELS
        after = hours > edge
        per_label = np.bincount(
            self._buckets[after] % LABELS, weights=self._bucket_counts[after], minlength=0
        )
        seen = Counter({labels[n]: int(c) for n, c in enumerate(per_label.tolist()) if c})
        return seen, bool((hours == edge).any())

    def edge_from_walk(self, since: int, labels: Sequence[str]) -> Counter[str] | None:
        """Devices per platform of the hour ``since`` (epoch ms) falls in, at or after it,
        from what the walk kept; None when it kept nothing of that hour."""
        edge = since // HOUR_MS
        if self.walked is None or self.watched is None or edge not in self.watched:
            return None
        seen: Counter[str] = Counter()
        for codes, ms in self.walked:
            at_edge = (ms >= since) & (ms // HOUR_MS == edge)
            for number, n in enumerate(np.bincount(codes[at_edge]).tolist()):
                if n:
                    seen[labels[number]] += n
        return seen

    def forget_walk(self) -> None:
        self.watched = self.walked = None
