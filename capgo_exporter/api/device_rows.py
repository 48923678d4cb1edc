"""GET /device pages decoded by msgspec straight into the few fields the device index keeps.

A full walk decodes a million device objects: the standard library's JSON decoder builds a
dict of fifteen entries for each, most of which the exporter never reads. msgspec decodes into
a struct of the fields the index stores and skips the rest without building them, several
times faster. Every field is typed ``Any``: Capgo may send a null, a number or an object where
a string is expected, and the index checks values itself (a wrong type must cost one device's
label, never the page). A row without a string ``device_id``, or that is not an object, is
dropped after decoding.

`DevicePageDecoder` goes one step further for the fields a device's profile is made of
(platform, bundle, native and plugin versions, channel): a fleet has a few dozen values of
each, repeated a million times. Once it has seen them, it decodes those fields as a ``Literal``
of the values known, and msgspec then hands out the one string object it holds for each value
instead of a new string per device: nothing to allocate or free, and a hash computed once
instead of per device when the index looks the profile up. On a walk of a million devices
that is about 0.15 µs of CPU a device less (5 %), 19 MB less peak RSS and 40 MB less at rest
(benchmarks/bench_devices.py). A page with a value not known yet fails that decoding; it is
decoded again with ``Any`` fields, which teaches the decoder the new values. So is a page with a
row that is no device with a string device_id: those decoded with the values known have none,
and no row to drop (`DevicePage.all_devices`).
"""

from __future__ import annotations

import sys
from operator import attrgetter
from typing import Any, ClassVar, Final, Literal

import msgspec


class DeviceRow(msgspec.Struct, gc=False):
    """The fields of a device object the index aggregates on.

    GET /device's object, from Capgo's ``supabase/functions/_backend/public/device/get.ts``.
    """

    device_id: Any = None
    updated_at: Any = None
    platform: Any = None
    version_name: Any = None
    version: Any = None  # a bundle id; {"id", "name"} in Capgo's older published API docs
    version_build: Any = None
    plugin_version: Any = None
    channel: Any = None  # present only when a forced channel override exists
    is_prod: Any = None
    is_emulator: Any = None


# What a list may hold: a device object, or anything else JSON has (dropped after decoding,
# like a row without a device_id, rather than failing the page).
Row = DeviceRow | list[Any] | str | int | float | bool | None


class DevicePage(msgspec.Struct, gc=False):
    """A cursor page: ``{data, nextCursor, hasMore}``."""

    data: list[Row]
    has_more: Any = msgspec.field(default=None, name="hasMore")
    next_cursor: Any = msgspec.field(default=None, name="nextCursor")
    # Whether every row is known to be a device with a string device_id (no row to drop).
    all_devices: ClassVar[bool] = False


# Servers before 2025-12 answered a bare array: decoded too, paged by the caller.
_DECODER = msgspec.json.Decoder(DevicePage | list[Row])

# The text fields of a device's profile, decoded as the values known once they are known.
PROFILE_TEXT_FIELDS: Final = (
    "platform",
    "version_name",
    "version_build",
    "plugin_version",
    "channel",
)
# Values known per field at most: more mean the field is no label (a per-device build number,
# say), and it is decoded with Any from then on.
_MAX_KNOWN: Final = 1_000
# Longer strings are no version or platform: never made known.
_MAX_KNOWN_LENGTH: Final = 128
# A page the known values cannot describe although it taught nothing new (a number where text
# was expected): this many pages are then decoded with Any fields before the next try.
_PAGES_WITHOUT_KNOWN_VALUES: Final = 50


def decode_device_page(body: bytes) -> DevicePage | list[Row]:
    """Decode one GET /device body; raises msgspec.DecodeError (or its ValidationError)."""
    return _DECODER.decode(body)


class DevicePageDecoder:
    """Decodes GET /device bodies as `decode_device_page` does, learning the values of the
    profile fields as it goes (see the module's docstring). One per API client: what it knows
    lives as long as the client, never written anywhere."""

    def __init__(self) -> None:
        self._known: dict[str, set[str]] = {field: set() for field in PROFILE_TEXT_FIELDS}
        self._unbounded: set[str] = set()  # fields with too many values: always Any
        self._with_known: msgspec.json.Decoder[Any] | None = None
        self._paused = 0  # pages left to decode with Any fields only

    @property
    def knows_values(self) -> bool:
        """Whether the next page is first decoded with the values known."""
        return self._with_known is not None and self._paused == 0

    def decode(self, body: bytes) -> DevicePage | list[Row]:
        """The page, with the same values whichever way it was decoded. Raises
        msgspec.DecodeError (or its ValidationError) as `decode_device_page` does."""
        if self._paused:
            self._paused -= 1
            return decode_device_page(body)
        if self._with_known is not None:
            try:
                page: DevicePage | list[Row] = self._with_known.decode(body)
            except msgspec.ValidationError:  # a value not known yet, or not text at all
                pass
            else:
                return page
        page = decode_device_page(body)
        if not self._learn(page) and self._with_known is not None:
            self._paused = _PAGES_WITHOUT_KNOWN_VALUES
        return page

    def _learn(self, page: DevicePage | list[Row]) -> bool:
        """Make the page's new values known; whether there were any."""
        rows = page.data if isinstance(page, DevicePage) else page
        devices = [row for row in rows if isinstance(row, DeviceRow)]
        learnt = False
        for field in PROFILE_TEXT_FIELDS:
            if field in self._unbounded:
                continue
            known = self._known[field]
            new = {
                value
                for value in set(map(attrgetter(field), devices))
                if type(value) is str and len(value) <= _MAX_KNOWN_LENGTH and value not in known
            }
            if not new:
                continue
            learnt = True
            # Interned, as the index interns the values of the profiles it looks up: the
            # lookup then compares each value by identity, not character by character.
            known |= {sys.intern(value) for value in new}
            if len(known) > _MAX_KNOWN:
                self._unbounded.add(field)
                known.clear()
        if learnt:
            self._with_known = _decoder_for(self._known)
        return learnt


def _decoder_for(known: dict[str, set[str]]) -> msgspec.json.Decoder[Any]:
    """A decoder of `DevicePage` (or a bare list) whose rows take the ``known`` values only
    in those fields (or null, or no value), a field with none known taking anything. Every
    row must be a device with a string device_id, so the page needs no row dropped after."""
    # Types made at run time: typed Any, as nothing static can be said of them.
    literal: Any = Literal
    fields: list[tuple[str, Any] | tuple[str, Any, None]] = [("device_id", str)]
    fields += [
        (field, literal[tuple(sorted(values))] | None, None)
        for field, values in known.items()
        if values
    ]
    row: Any = msgspec.defstruct(
        "KnownDeviceRow", fields, bases=(DeviceRow,), gc=False, kw_only=True
    )
    page: Any = msgspec.defstruct(
        "KnownDevicePage",
        [("data", list[row])],
        bases=(DevicePage,),
        gc=False,
        namespace={"all_devices": True},
    )
    return msgspec.json.Decoder(page | list[row])


def row_from_mapping(row: Any) -> DeviceRow | None:
    """A DeviceRow from an already-decoded JSON object (None when it has no device_id)."""
    if not isinstance(row, dict) or not isinstance(row.get("device_id"), str):
        return None
    get = row.get
    return DeviceRow(
        device_id=row["device_id"],
        updated_at=get("updated_at"),
        platform=get("platform"),
        version_name=get("version_name"),
        version=get("version"),
        version_build=get("version_build"),
        plugin_version=get("plugin_version"),
        channel=get("channel"),
        is_prod=get("is_prod"),
        is_emulator=get("is_emulator"),
    )
