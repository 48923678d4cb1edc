"""An app's devices counted the way the index's aggregates need them, kept up to date page by
page, so aggregating a million devices is not a sort of a million rows every run.

Every aggregate but the seen windows is a sum over profiles: the tally keeps devices per
profile. The seen windows (devices whose ``updated_at`` is within 1, 7 or 30 days, per
platform) are kept as devices per (platform, hour of ``updated_at``): every hour after the one
a window starts in counts whole, and that one hour is counted exactly by the index from its
rows (`DeviceIndex.summarize`), a scan with no sort. Memory: a few thousand entries an app.

A full walk's tally also keeps the platform and exact time of the devices it counted in the
hours the windows start in when it began, and the hour after (`walked`: a few percent of the
devices, at most): the first summary after the walk, within an hour of its start, counts those
hours from them instead of scanning the index, and drops them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

HOUR_MS: Final = 3_600_000


@dataclass
class DeviceTally:
    """Devices per profile and per (platform, hour of updated_at); `newest` is the newest
    updated_at ever counted (what the high-water mark needs: it never goes backwards)."""

    profiles: Counter[int] = field(default_factory=Counter)
    hours: Counter[tuple[str, int]] = field(default_factory=Counter)
    newest: int | None = None
    # A walk's: the hours it keeps devices of, and per page its platform labels, each kept
    # device's label number and updated_at.
    watched: npt.NDArray[np.int64] | None = None
    walked: list[tuple[list[str], npt.NDArray[np.int32], npt.NDArray[np.int64]]] | None = None

    @classmethod
    def of_walk(cls, window_starts: Sequence[int]) -> DeviceTally:
        """A tally for a full walk begun when the seen windows started at ``window_starts``
        (epoch ms): it keeps the devices of those hours and the next until `edge_from_walk`."""
        hours = {start // HOUR_MS + later for start in window_starts for later in (0, 1)}
        return cls(watched=np.array(sorted(hours), dtype=np.int64), walked=[])

    @property
    def total(self) -> int:
        return sum(self.profiles.values())

    def add(
        self,
        profiles: Sequence[int],
        stamps: npt.NDArray[np.int64] | Sequence[int | None],
        platform: Sequence[str],
        sign: int = 1,
    ) -> None:
        """Count (``sign`` 1) or uncount (-1) devices: their profiles, their updated_at in
        epoch ms (None: unknown), and ``platform[profile]``, every profile's platform label.
        Only a walk's tally adds devices before its first summary: any other change means
        what the walk kept no longer describes the app."""
        if sign < 0:
            self.walked = None
        profile_ids = np.asarray(profiles, dtype=np.int64)
        counted = np.bincount(profile_ids) if len(profile_ids) else np.empty(0, dtype=np.int64)
        for profile in np.flatnonzero(counted).tolist():
            self.profiles[profile] += sign * int(counted[profile])
        if isinstance(stamps, np.ndarray):
            known, ms = profile_ids, stamps
        else:
            mask = np.array([s is not None for s in stamps], dtype=bool)
            known = profile_ids[mask]
            ms = np.array([s for s in stamps if s is not None], dtype=np.int64)
        if len(ms):
            self._add_hours(known, ms, platform, sign)
            if sign > 0:
                newest = int(ms.max())
                self.newest = newest if self.newest is None else max(self.newest, newest)
        self._drop_empty()

    def _add_hours(
        self,
        profiles: npt.NDArray[np.int64],
        ms: npt.NDArray[np.int64],
        platform: Sequence[str],
        sign: int,
    ) -> None:
        labels = sorted(set(platform))
        code_of = {label: code for code, label in enumerate(labels)}
        codes = np.array([code_of[label] for label in platform], dtype=np.int64)[profiles]
        hours = ms // HOUR_MS
        if self.walked is not None and self.watched is not None:
            kept = np.isin(hours, self.watched)
            if kept.any():
                self.walked.append((labels, codes[kept].astype(np.int32), ms[kept]))
        low = int(hours.min())
        combined = (hours - low) * len(labels) + codes
        values, counts = np.unique(combined, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            hour, code = divmod(value, len(labels))
            self.hours[(labels[code], hour + low)] += sign * count

    def _drop_empty(self) -> None:
        for counter in (self.profiles, self.hours):
            for key in [k for k, n in counter.items() if n <= 0]:
                del counter[key]

    def seen_since(self, since_ms: int) -> tuple[int, Counter[str]]:
        """Devices per platform whose hour is wholly at or after ``since_ms``; the hour
        ``since_ms`` falls in (returned first) is the caller's to count exactly."""
        edge = since_ms // HOUR_MS
        after: Counter[str] = Counter()
        for (label, hour), n in self.hours.items():
            if hour > edge:
                after[label] += n
        return edge, after

    def edge_from_walk(self, since: int) -> Counter[str] | None:
        """Devices per platform of the hour ``since`` (epoch ms) falls in, at or after it,
        from what the walk kept; None when it kept nothing of that hour."""
        edge = since // HOUR_MS
        if self.walked is None or self.watched is None or edge not in self.watched:
            return None
        seen: Counter[str] = Counter()
        for labels, codes, ms in self.walked:
            counts = np.bincount(
                codes[(ms >= since) & (ms // HOUR_MS == edge)], minlength=len(labels)
            )
            for label, n in zip(labels, counts.tolist(), strict=True):
                if n:
                    seen[label] += n
        return seen

    def forget_walk(self) -> None:
        self.watched = self.walked = None
