"""Every aggregate the device metrics show, from an app's devices per profile.

A profile is one combination of the fields we aggregate on (platform, bundle, native and
plugin versions, channel override, is_prod, is_emulator); a fleet has a few thousand. The
index counts devices per profile (`tally`); this module turns those counts into
label values ready for the exposition, folding long tails into "other".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, TypeVar

from capgo_exporter.collect.labels import flag, text

OTHER: Final = "other"
_K = TypeVar("_K", bound=Hashable)
# version_name values Capgo gives a device running the bundle inside the app binary.
BUILTIN_NAMES: Final = frozenset({"builtin", "unknown"})
SEEN_WINDOWS: Final = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}

# (platform, version_name, version_build, plugin_version, channel, is_prod, is_emulator)
Profile = tuple[
    str | None, str | None, str | None, str | None, str | None, bool | None, bool | None
]


@dataclass
class AppDevices:
    """Every aggregate of one app's devices, with label values ready for the exposition."""

    total: int = 0
    # (platform, bundle, is_prod, is_emulator) -> devices
    by_bundle: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    by_native: dict[tuple[str, str], int] = field(default_factory=dict)  # platform, build
    by_plugin: dict[str, int] = field(default_factory=dict)
    on_builtin: dict[str, int] = field(default_factory=dict)  # every platform present
    seen: dict[str, dict[str, int]] = field(default_factory=dict)  # window -> platform -> n
    overrides: dict[str, int] = field(default_factory=dict)  # override channel -> devices
    # (override channel or None, version_name) as Capgo sent them, for channel adoption.
    running: dict[tuple[str | None, str | None], int] = field(default_factory=dict)

    def folded_by_bundle(self, max_bundles: int) -> dict[tuple[str, str, str, str], int]:
        """`by_bundle` with every bundle past the `max_bundles` most used as "other", so a long
        tail of old bundles cannot blow up cardinality."""
        return fold_rare(
            self.by_bundle, max_bundles, lambda k: k[1], lambda k: (k[0], OTHER, k[2], k[3])
        )

    def folded_by_native(self, keep: int) -> dict[tuple[str, str], int]:
        """`by_native` with the `keep` most common (platform, build) pairs; the rest become
        (platform, "other"): at most ``keep`` + one per platform series."""
        return fold_rare(self.by_native, keep, lambda k: k, lambda k: (k[0], OTHER))

    def folded_by_plugin(self, keep: int) -> dict[str, int]:
        """`by_plugin` with the `keep` most common versions; the rest become "other"."""
        return fold_rare(self.by_plugin, keep, lambda k: k, lambda k: OTHER)


def fold_rare(
    counts: Mapping[_K, int],
    keep: int,
    label: Callable[[_K], Hashable],
    folded: Callable[[_K], _K],
) -> dict[_K, int]:
    """``counts`` with the ``keep`` values of ``label`` that count most (ties by name, so the
    choice is stable from one run to the next) kept as they are, and every other key replaced
    by ``folded(key)``, its counts summed."""
    per_label: Counter[Hashable] = Counter()
    for key, count in counts.items():
        per_label[label(key)] += count
    kept = set(sorted(per_label, key=lambda v: (-per_label[v], str(v)))[:keep])
    result: Counter[_K] = Counter()
    for key, count in counts.items():
        result[key if label(key) in kept else folded(key)] += count
    return dict(result)


def aggregate(
    profiles: Iterable[tuple[Profile, int]], seen: Mapping[str, Mapping[str, int]]
) -> AppDevices:
    """Every aggregate of an app from its devices per profile, and its seen windows
    (window -> platform label -> devices; every platform present gets a count, 0 included)."""
    by_bundle: Counter[tuple[str, str, str, str]] = Counter()
    by_native: Counter[tuple[str, str]] = Counter()
    by_plugin: Counter[str] = Counter()
    on_builtin: Counter[str] = Counter()
    overrides: Counter[str] = Counter()
    running: Counter[tuple[str | None, str | None]] = Counter()
    total = 0
    for profile, count in profiles:
        platform, bundle, native, plugin, channel, prod, emulator = profile
        where = text(platform)
        total += count
        by_bundle[(where, text(bundle), flag(prod), flag(emulator))] += count
        by_native[(where, text(native))] += count
        by_plugin[text(plugin)] += count
        # Missing names are not evidence of the builtin bundle: only Capgo's own markers are.
        builtin = bundle is not None and (bundle == native or bundle in BUILTIN_NAMES)
        on_builtin[where] += count if builtin else 0
        if channel is not None:
            overrides[channel] += count
        running[(channel, bundle)] += count
    return AppDevices(
        total=total,
        by_bundle=dict(by_bundle),
        by_native=dict(by_native),
        by_plugin=dict(by_plugin),
        on_builtin=dict(on_builtin),
        seen={window: dict(seen.get(window, {})) for window in SEEN_WINDOWS},
        overrides=dict(overrides),
        running=dict(running),
    )
