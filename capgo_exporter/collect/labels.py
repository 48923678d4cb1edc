"""How API values become label values: the same spelling in every collector."""

from __future__ import annotations

import re

UNKNOWN = "unknown"

# What would act on a terminal, a log or a tool instead of being shown: C0 controls, DEL, C1
# controls, and Unicode's Bidi_Control characters (the right-to-left override U+202E reorders
# what follows it on screen).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\ufffd"


def printable(value: str) -> str:
    """``value`` with every control and bidirectional-control character replaced by U+FFFD."""
    return _UNSAFE.sub(REPLACEMENT, value)


def flag(value: bool | None) -> str:
    if value is None:
        return UNKNOWN
    return "true" if value else "false"


def text(value: object) -> str:
    """A label value from an optional API field; empty and null read as ``unknown``."""
    if value is None or value == "":
        return UNKNOWN
    return str(value)
