"""GET /device pages decoded by msgspec straight into the few fields the device index keeps.

A full walk decodes a million device objects: the standard library's JSON decoder builds a
dict of fifteen entries for each, most of which the exporter never reads. msgspec decodes into
a struct of the fields the index stores and skips the rest without building them, several
times faster. Every field is typed ``Any``: Capgo may send a null, a number or an object where
a string is expected, and the index checks values itself (a wrong type must cost one device's
label, never the page). A row without a string ``device_id``, or that is not an object, is
dropped after decoding.
"""

from __future__ import annotations

from typing import Any

import msgspec


class DeviceRow(msgspec.Struct, gc=False):
    """The fields of a device object the index aggregates on (reference §3.5)."""

    device_id: Any = None
    updated_at: Any = None
    platform: Any = None
    version_name: Any = None
    version: Any = None  # a bundle id; in the seed doc's shape, {"id", "name"}
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


# Servers before 2025-12 answered a bare array: decoded too, paged by the caller.
_DECODER = msgspec.json.Decoder(DevicePage | list[Row])


def decode_device_page(body: bytes) -> DevicePage | list[Row]:
    """Decode one GET /device body; raises msgspec.DecodeError (or its ValidationError)."""
    return _DECODER.decode(body)


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
