"""Device events per (day, action, bundle), derived from an app's devices and bundles.

Like AppSeries, every figure is a hash of (app, day, bundle, action), so any window costs
O(days x bundles x actions) and the same question always gets the same answer. The bundles
and their device shares come from the app's DeviceStore, so events name bundles devices run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from capgo_exporter.api.insights import DEFAULT_FAILURE_ACTIONS
from capgo_exporter.sim.hashing import mix

# Part of Capgo's `stats_action` enum besides the failures: enough to tell unknown actions.
OTHER_ACTIONS: tuple[str, ...] = (
    "set",
    "get",
    "delete",
    "reset",
    "uninstall",
    "download_complete",
    "download_0",
    "download_10",
    "download_50",
    "download_90",
    "app_moved_to_foreground",
    "app_moved_to_background",
    "app_launch_timeout",
    "rateLimited",
    "needPlanUpgrade",
    "disableAutoUpdate",
    "noNew",
    "ping",
)
KNOWN_ACTIONS = frozenset(DEFAULT_FAILURE_ACTIONS + OTHER_ACTIONS)

# Failures a healthy release reports now and then (per mille of its installs), and what a
# bad one reports: crashes at start-up and failed updates dominate.
_HEALTHY_FAILURES = {"download_fail": 6, "app_crash": 3, "webview_javascript_error": 4}
_BAD_FAILURES = {"app_crash": 120, "app_crash_native": 40, "update_fail": 60}
# Per mille of a bundle's devices that report each action on a given day.
_DAILY_REPORTING = {"set": 60, "get": 400, "download_complete": 55}


@dataclass(frozen=True)
class Count:
    total: int
    devices: int  # distinct devices that reported it


_NONE = Count(0, 0)


class EventLog:
    """Events of one app: per day, per bundle its devices ran, per action."""

    def __init__(
        self,
        *,
        seed: int,
        salt: int,
        first_day: date,
        devices: int,
        versions: Sequence[tuple[str, int]],
        bad_bundle: str | None,
    ) -> None:
        self._salt = mix(seed, salt, "events")
        self._first_day = first_day
        self._devices = devices
        previous, shares = 0, []
        for name, cumulative in versions:
            shares.append((name, cumulative - previous))
            previous = cumulative
        self.bundles: tuple[str, ...] = tuple(name for name, _ in shares)
        self._populations: dict[str, int] = {}
        for name, share in shares:  # a name listed twice keeps its first share
            self._populations.setdefault(name, devices * share // 1000)
        self.bad_bundle = bad_bundle

    def population(self, bundle: str) -> int:
        """Devices running `bundle` (its share of the app's devices)."""
        return self._populations.get(bundle, 0)

    def _failure_rates(self, bundle: str) -> dict[str, int]:
        return _BAD_FAILURES if bundle == self.bad_bundle else _HEALTHY_FAILURES

    def reports(self, action: str, bundle: str) -> bool:
        """Whether `bundle`'s devices ever report `action`: most failure actions never occur,
        and answering them without hashing is most of what a window costs."""
        return action in _DAILY_REPORTING or action in self._failure_rates(bundle)

    def day(self, day: date, action: str, bundle: str) -> Count:
        """Events of `action` on `bundle` that day: 0 before the app existed."""
        population = self.population(bundle)
        if day < self._first_day or population == 0 or not self.reports(action, bundle):
            return _NONE
        jitter = 800 + mix(self._salt, day.toordinal(), bundle, action) % 400  # per mille
        if action in _DAILY_REPORTING:
            devices = population * _DAILY_REPORTING[action] * jitter // 1_000_000
            return Count(devices * (2 if action == "get" else 1), devices)
        rates = self._failure_rates(bundle)
        installs = self.day(day, "set", bundle).devices
        expected = installs * rates[action] * jitter  # in millionths of an event
        # Rounded up with the fraction's probability, so small fleets still see rare failures.
        roll = mix(self._salt, day.toordinal(), bundle, action, "round") % 1_000_000
        total = expected // 1_000_000 + (1 if roll < expected % 1_000_000 else 0)
        # A crashing device tends to crash again: fewer devices than events.
        return Count(total, max(1, total * 2 // 3) if total else 0)

    def window(self, days: Sequence[date], action: str, bundle: str) -> Count:
        """Sum over `days`; distinct devices can't exceed the bundle's population."""
        if not self.reports(action, bundle):
            return _NONE
        counts = [self.day(d, action, bundle) for d in days]
        total = sum(c.total for c in counts)
        devices = min(self.population(bundle), sum(c.devices for c in counts))
        return Count(total, devices)
