"""The base devices' fields for many indices at once, with numpy.

A device's fields are a pure function of (store salt, index): three splitmix64 hashes
(DeviceStore._hashes) and draws from fixed tables. A million-device walk draws a million rows
and the ground truth counts a million devices, so both take the draws here, a column at a
time, instead of one device at a time in Python (a million rows: about 11 s one by one).
Every value is the one the per-device path gives (tests/sim/test_device_columns.py compares
them); the store's overlay (touched, added, overridden devices) is applied by its caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from capgo_exporter.sim.device_tables import H2_TWEAK, H3_TWEAK, ID_MULTIPLIER

U64 = NDArray[np.uint64]
T = TypeVar("T")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
ID_LENGTH = 36  # 8-4-4-4-12


def splitmix64_array(x: U64) -> U64:
    """hashing.splitmix64 on every element (uint64 arithmetic wraps as its masks do)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def bits(values: U64, shift: int, modulo: int) -> NDArray[np.intp]:
    """(value >> shift) % modulo, as indices into a table."""
    return ((values >> np.uint64(shift)) % np.uint64(modulo)).astype(np.intp)


@dataclass(frozen=True)
class Hashes:
    indices: NDArray[np.uint64]
    h1: U64
    h2: U64
    h3: U64

    @classmethod
    def of(cls, salt: int, indices: Sequence[int] | range) -> Hashes:
        at = np.asarray(indices, dtype=np.uint64)
        h1 = splitmix64_array(np.uint64(salt) ^ (at * np.uint64(ID_MULTIPLIER)))
        h2 = splitmix64_array(h1 ^ np.uint64(H2_TWEAK))
        h3 = splitmix64_array(h1 ^ np.uint64(H3_TWEAK))
        return cls(at, h1, h2, h3)


def _hex_into(out: NDArray[np.uint8], column: int, values: U64, digits: int) -> None:
    for k in range(digits):
        shift = np.uint64(4 * (digits - 1 - k))
        out[:, column + k] = _HEX[((values >> shift) & np.uint64(0xF)).astype(np.intp)]


def device_ids(hashes: Hashes) -> list[str]:
    """devices._format_id for every index: ``{index:08x}-{h1>>48:04x}-4…-{8|…:x}…-{h3:012x}``."""
    h1, h3 = hashes.h1, hashes.h3
    out = np.empty((len(h1), ID_LENGTH), dtype=np.uint8)
    out[:, [8, 13, 18, 23]] = ord("-")
    out[:, 14] = ord("4")
    _hex_into(out, 0, hashes.indices, 8)
    _hex_into(out, 9, h1 >> np.uint64(48), 4)
    _hex_into(out, 15, (h1 >> np.uint64(36)) & np.uint64(0xFFF), 3)
    _hex_into(out, 19, np.uint64(8) | ((h1 >> np.uint64(34)) & np.uint64(3)), 1)
    _hex_into(out, 20, (h1 >> np.uint64(22)) & np.uint64(0xFFF), 3)
    _hex_into(out, 24, h3 & np.uint64(0xFFFFFFFFFFFF), 12)
    return _strings(out)


def custom_ids(h2: U64) -> list[str]:
    """``user-NNNNN`` where h2 % 4 == 0, else the empty string."""
    numbers = (h2 >> np.uint64(8)) % np.uint64(100_000)
    out = np.empty((len(h2), 10), dtype=np.uint8)
    out[:, :5] = np.frombuffer(b"user-", dtype=np.uint8)
    for k in range(5):
        digit = (numbers // np.uint64(10 ** (4 - k))) % np.uint64(10)
        out[:, 5 + k] = _DIGITS[digit.astype(np.intp)]
    texts = np.asarray(_strings(out), dtype=object)
    texts[(h2 % np.uint64(4)) != 0] = ""
    picked: list[str] = texts.tolist()
    return picked


def iso_z(ms: NDArray[np.int64]) -> list[str]:
    """timeutil.ms_iso_z for every element: ``2026-12-05T11:59:59.999Z``."""
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC")
    texts: list[str] = text.tolist()
    return texts


def pick(table: Sequence[T], at: NDArray[np.intp]) -> list[T]:
    """table[i] for every i, as Python objects."""
    picked: list[T] = np.asarray(table, dtype=object)[at].tolist()
    return picked


def _strings(ascii_rows: NDArray[np.uint8]) -> list[str]:
    width = ascii_rows.shape[1]
    packed = np.ascontiguousarray(ascii_rows).view(f"S{width}").ravel()
    texts: list[str] = packed.astype(f"U{width}").tolist()
    return texts
