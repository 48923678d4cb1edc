"""Raw device events of one app, as ``POST /private/stats`` returns them and as Capgo's rollout
auto-pause counts them.

Two sources, merged when a time range is asked for:

- events added one by one (`RawEventLog.add`: tests, an agreement sweep), kept sorted by time;
- `Traffic`: the events of a channel's rollout over time, a pure function of the minute (like
  the daily `EventLog`), so any window costs O(minutes x events a minute) and nothing is stored.
  A traffic's failure rate may change at an instant (a release going bad during the demo).

Each event also carries the channel Capgo attributed it to (the device's channel when it
reported): Capgo's auto-pause counts only the channel's events; the rows do not show it.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from capgo_exporter.autopause import FAILURE_ACTIONS, INSTALL_ACTION
from capgo_exporter.sim.devices import DeviceStore
from capgo_exporter.sim.hashing import mix

_MINUTE_MS: Final = 60_000
# Three hours of a channel's drawn minutes (at most 160 events each): longer than the windows
# Capgo's check and the rollouts collector read in the simulated stories.
_MINUTES_KEPT: Final = 180


@dataclass(frozen=True)
class RawEvent:
    created_ms: int
    device_id: str
    action: str
    version_name: str
    # The metadata object as JSON text (rows are grouped by it), or None.
    metadata: str | None = None
    channel: str | None = None  # Capgo's attribution; not part of a row


@dataclass(frozen=True)
class Phase:
    """From ``start_ms`` on, a bundle's devices fail ``failure_bps`` of their attempts."""

    start_ms: int
    failure_bps: int


@dataclass(frozen=True)
class Stream:
    """One bundle's attempts on a channel: about ``per_minute`` a minute, failing as the
    phase in force says (the last phase starting at or before the minute)."""

    bundle: str
    per_minute: int
    phases: tuple[Phase, ...]

    def failure_bps(self, minute_ms: int) -> int:
        current = 0
        for phase in self.phases:
            if phase.start_ms <= minute_ms:
                current = phase.failure_bps
        return current


class Traffic:
    """The attempts of a channel's devices on its rollout and stable bundles, minute by
    minute, drawn from the app's devices (production or not, emulators or not, as they are)."""

    def __init__(
        self, *, salt: int, channel: str, devices: DeviceStore, streams: tuple[Stream, ...]
    ) -> None:
        self._salt = mix(salt, channel, "traffic")
        self.channel = channel
        self._devices = devices
        self.streams = streams
        # Capgo's check every 5 minutes reads the last hour or more again, and so do the
        # stats rows: each minute is drawn once (a minute depends on the fleet's size too).
        self._drawn = functools.lru_cache(maxsize=_MINUTES_KEPT)(self._draw)

    def between(self, start_ms: int, end_ms: int) -> Iterator[RawEvent]:
        if self._devices.count == 0:
            return
        first = start_ms - start_ms % _MINUTE_MS
        for minute in range(first, end_ms, _MINUTE_MS):
            for event in self._drawn(minute, self._devices.count, self.streams):
                if start_ms <= event.created_ms < end_ms:
                    yield event

    def _draw(
        self, minute_ms: int, devices: int, streams: tuple[Stream, ...]
    ) -> tuple[RawEvent, ...]:
        """The minute's events of every stream (``devices``: the fleet's size then)."""
        events = []
        for number, stream in enumerate(streams):
            h = mix(self._salt, minute_ms, number)
            # 75 % to 125 % of the rate, and each event at its own millisecond of the minute.
            count = stream.per_minute * (750 + h % 500) // 1000
            failing = stream.failure_bps(minute_ms)
            for i in range(count):
                e = mix(h, i)
                device = self._devices.device_id(e % devices)
                fails = (e >> 20) % 10_000 < failing
                action = FAILURE_ACTIONS[(e >> 40) % 3] if fails else INSTALL_ACTION
                at = minute_ms + i * (_MINUTE_MS // max(count, 1)) + (e >> 50) % 7
                events.append(RawEvent(at, device, action, stream.bundle, None, self.channel))
        return tuple(events)


def _time(event: RawEvent) -> int:
    return event.created_ms


class _Sorted:
    """Events by time, and their times for bisection."""

    def __init__(self, events: list[RawEvent]) -> None:
        events.sort(key=_time)
        self.events = events
        self.times = [event.created_ms for event in events]

    def between(self, start_ms: int, end_ms: int) -> list[RawEvent]:
        return self.events[bisect_left(self.times, start_ms) : bisect_left(self.times, end_ms)]


class RawEventLog:
    def __init__(self) -> None:
        self._all = _Sorted([])
        self._by_channel: dict[str | None, _Sorted] | None = None  # built when first asked
        self.traffic: list[Traffic] = []

    def add(self, events: Iterable[RawEvent]) -> None:
        self._all = _Sorted([*self._all.events, *events])
        self._by_channel = None

    def between(self, start_ms: int, end_ms: int, channel: str | None = None) -> list[RawEvent]:
        """Every event with ``start_ms <= created_ms < end_ms``, by time; with ``channel``,
        only those Capgo attributed to it."""
        if channel is None:
            found = self._all.between(start_ms, end_ms)
        else:
            if self._by_channel is None:
                grouped: dict[str | None, list[RawEvent]] = {}
                for event in self._all.events:
                    grouped.setdefault(event.channel, []).append(event)
                self._by_channel = {name: _Sorted(list_) for name, list_ in grouped.items()}
            part = self._by_channel.get(channel)
            found = [] if part is None else part.between(start_ms, end_ms)
        streams = [t for t in self.traffic if channel is None or t.channel == channel]
        if streams:
            for traffic in streams:
                found.extend(traffic.between(start_ms, end_ms))
            found.sort(key=_time)
        return found
