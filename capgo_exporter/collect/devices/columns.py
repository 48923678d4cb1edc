"""A page of devices as the columns the index stores: device keys and ``updated_at`` in epoch ms.

The per-device rules are `device_key` and `epoch_ms`. Applying them one device at a time costs
about 0.8 µs a device in Python, a quarter of the exporter's budget for a whole walk
(benchmarks/bench_devices.py), so a page is converted in a few NumPy operations instead when
every value has the one shape Capgo sends: a lowercase or uppercase UUID for ``device_id``
(what the plugin sends) and ``YYYY-MM-DDTHH:MM:SS.mmmZ`` for ``updated_at`` (JavaScript's
``toISOString``, the form of the device list). Any other value anywhere in the page sends the
whole column down the per-device path, so both paths always give the same numbers for the
same value (tests/collect/test_device_columns.py holds them to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any, Final

import numpy as np
import numpy.typing as npt

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_SIGN: Final = 1 << 63  # unsigned 64-bit order to SQLite's signed integers

_UUID_LENGTH: Final = 36
_UUID_DASHES: Final = (8, 13, 18, 23)
_STAMP_LENGTH: Final = 24  # 2026-11-12T18:57:24.958Z
_STAMP_PUNCTUATION: Final = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z"}
_STAMP_DIGITS: Final = [i for i in range(_STAMP_LENGTH) if i not in _STAMP_PUNCTUATION]
_MONTH_DAYS: Final = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def device_key(device_id: str) -> int:
    """The signed 64-bit number the index stores instead of the device id.

    For a UUID (what Capgo's plugin sends): its first 32 bits, then the other 96 folded into
    32. Keys then follow device_id order, the order of a full walk, so the walk appends to
    the B-tree instead of writing all over it (measured 4 times cheaper on a file), and every
    random bit of a v4 UUID (or of a v7, whose head is a timestamp) still counts. Case does
    not matter: Capgo lowercases device ids. Any other id: 64 bits of BLAKE2b.
    """
    if len(device_id) == _UUID_LENGTH:
        try:
            x = int(device_id.replace("-", ""), 16)
        except ValueError:
            pass
        else:
            key = (x >> 64 ^ (x ^ x >> 32) & 0xFFFFFFFF) - _SIGN
            if -_SIGN <= key < _SIGN:  # not so for 36 hex digits without dashes
                return key
    digest = blake2b(device_id.encode(errors="surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, signed=True)


def to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def epoch_ms(value: Any) -> int | None:
    """``updated_at`` as epoch milliseconds (rounded down), or None when it is no timestamp.
    A time without a zone ("YYYY-MM-DD HH:MM:SS", Analytics Engine's form) is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_ms(moment)


def device_keys(device_ids: Sequence[str]) -> list[int]:
    """`device_key` of every id (every one a str)."""
    keys = _uuid_keys(device_ids)
    return keys.tolist() if keys is not None else [device_key(i) for i in device_ids]


def epoch_ms_column(values: Sequence[Any]) -> npt.NDArray[np.int64] | list[int | None]:
    """`epoch_ms` of every value: an array when every one converted, else a list with None
    where a value is no timestamp."""
    stamps = _iso_stamps(values)
    return stamps if stamps is not None else [epoch_ms(v) for v in values]


def _uuid_keys(device_ids: Sequence[str]) -> npt.NDArray[np.int64] | None:
    """`device_key` of every id at once, or None unless every id is a UUID."""
    count = len(device_ids)
    joined = "".join(device_ids)
    if len(joined) != _UUID_LENGTH * count or set(map(len, device_ids)) != {_UUID_LENGTH}:
        return None
    if any(joined[i::_UUID_LENGTH].count("-") != count for i in _UUID_DASHES):
        return None
    try:
        # fromhex skips whitespace, which int() in device_key strips only at the ends: a
        # page with any is left to device_key (the length below would be short).
        packed = bytes.fromhex(joined.replace("-", ""))
    except ValueError:
        return None
    if len(packed) != 16 * count:
        return None
    halves = np.frombuffer(packed, dtype=">u8").reshape(count, 2).astype(np.uint64)
    high, low = halves[:, 0], halves[:, 1]
    folded = high ^ ((low ^ (low >> np.uint64(32))) & np.uint64(0xFFFFFFFF))
    # x - 2**63 in two's complement is x with its top bit flipped.
    signed: npt.NDArray[np.int64] = (folded ^ np.uint64(_SIGN)).view(np.int64)
    return signed


def _iso_stamps(values: Sequence[Any]) -> npt.NDArray[np.int64] | None:
    """`epoch_ms` of every value at once, or None unless every value is a valid
    ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    count = len(values)
    if count == 0:
        return np.empty(0, dtype=np.int64)
    try:
        joined = "".join(values)
    except TypeError:  # a null, a number
        return None
    if len(joined) != _STAMP_LENGTH * count or set(map(len, values)) != {_STAMP_LENGTH}:
        return None
    if any(joined[i::_STAMP_LENGTH].count(c) != count for i, c in _STAMP_PUNCTUATION.items()):
        return None
    try:
        text = joined.encode("ascii")
    except UnicodeEncodeError:
        return None
    chars = np.frombuffer(text, dtype=np.uint8).reshape(count, _STAMP_LENGTH)
    digits = chars[:, _STAMP_DIGITS].astype(np.int64) - ord("0")
    if ((digits < 0) | (digits > 9)).any():
        return None
    return _civil_to_ms(digits)


def _civil_to_ms(digits: npt.NDArray[np.int64]) -> npt.NDArray[np.int64] | None:
    """Epoch ms from the 17 digit columns of ``YYYY MM DD hh mm ss mmm``, or None when a
    date or time does not exist (what datetime.fromisoformat refuses)."""

    def number(first: int, width: int) -> npt.NDArray[np.int64]:
        value = digits[:, first]
        for column in range(first + 1, first + width):
            value = value * 10 + digits[:, column]
        return value

    year, month, day = number(0, 4), number(4, 2), number(6, 2)
    hour, minute, second, milli = number(8, 2), number(10, 2), number(12, 2), number(14, 3)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    if ((year < 1) | (month < 1) | (month > 12) | (day < 1)).any():
        return None
    if ((day > _MONTH_DAYS[month]) | ((month == 2) & (day == 29) & ~leap)).any():
        return None
    if ((hour > 23) | (minute > 59) | (second > 59)).any():
        return None
    # Days since 1970-01-01 from a civil date (H. Hinnant's days_from_civil).
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146097 + day_of_era - 719468
    ms: npt.NDArray[np.int64] = (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + milli
    return ms
