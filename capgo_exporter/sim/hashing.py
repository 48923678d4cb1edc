"""Deterministic, fast integer hashing: the source of every generated value."""

from __future__ import annotations

import functools
import hashlib
import uuid

MASK64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """One splitmix64 step: a well-mixed 64-bit value from any integer (cheap, no state)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


@functools.lru_cache(maxsize=65_536)
def _string_value(text: str) -> int:
    # The same few strings (app ids, bundle names, actions) are hashed millions of times.
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def mix(*parts: int | str) -> int:
    """Hash several ints/strings into one 64-bit value."""
    acc = 0x243F6A8885A308D3
    for part in parts:
        if isinstance(part, str):
            part = _string_value(part)
        acc = splitmix64(acc ^ (part & MASK64))
    return acc


def stable_uuid(*parts: int | str) -> str:
    """A version-4-shaped UUID string derived from `parts`."""
    high = mix(*parts)
    low = splitmix64(high)
    return str(uuid.UUID(int=(high << 64) | low, version=4))
