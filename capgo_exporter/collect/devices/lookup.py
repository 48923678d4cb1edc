"""Which devices of a list the index knows as production devices that are not emulators.

Capgo's rollout auto-pause counts only the events of such devices; the events themselves
(``POST /private/stats`` rows) carry no device fields, so the exporter looks their device ids up
here. A device the index does not hold (not walked yet) is not counted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Final

from capgo_exporter.collect.devices.columns import device_key

# Keys per query: well under SQLite's limit on bound parameters.
_CHUNK: Final = 500


def production_devices(db: sqlite3.Connection, app: int, device_ids: Collection[str]) -> set[str]:
    """The ids among ``device_ids`` whose row in app number ``app`` is is_prod and not
    is_emulator (a null in either does not count, as in Capgo)."""
    by_key: dict[int, list[str]] = {}
    for device_id in device_ids:
        by_key.setdefault(device_key(device_id), []).append(device_id)
    keys = list(by_key)
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            "SELECT d.key FROM device d JOIN profile p ON p.id = d.profile "
            f"WHERE d.app = ? AND p.is_prod = 1 AND p.is_emulator = 0 AND d.key IN ({marks})",
            (app, *chunk),
        )
        for (key,) in rows:
            found.update(by_key[key])
    return found
