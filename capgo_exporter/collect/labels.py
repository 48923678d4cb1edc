"""How API values become label values: the same spelling in every collector."""

from __future__ import annotations

UNKNOWN = "unknown"


def flag(value: bool | None) -> str:
    if value is None:
        return UNKNOWN
    return "true" if value else "false"


def text(value: object) -> str:
    """A label value from an optional API field; empty and null read as ``unknown``."""
    if value is None or value == "":
        return UNKNOWN
    return str(value)
