"""Values as people write them: durations (``1h30m``), byte sizes (``5GiB``) and lists
(``a,b``), parsed for the model and written back for people.

The parsers serve as pydantic validators: the text of the ValueError they raise becomes the
message that names the setting.
"""

import math
import re
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# "ms" comes before "m" so that "500ms" is not read as 500 minutes followed by junk.
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(value: object) -> float:
    """``30s``, ``5m``, ``1h30m``, ``500ms``, ``1d`` or a bare number of seconds, as seconds."""
    text = value.strip() if isinstance(value, str) else ""
    if text.startswith("-"):
        raise ValueError(f"invalid duration {value!r} — it must be positive")
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif _NUMBER.fullmatch(text):
        seconds = float(text)
    elif _DURATION.fullmatch(text):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    else:
        raise ValueError(
            f"invalid duration {value!r} — use a number with a unit: 500ms, 30s, 5m, 1h, 1d"
        )
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"invalid duration {value!r} — it must be positive")
    return seconds


def format_duration(seconds: float) -> str:
    """The inverse of `parse_duration`, to millisecond precision: 5400 → ``1h30m``."""
    remaining = round(seconds * 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


# The "i" stays lowercase so that "GiB" and "GB" can never be confused.
_BYTE_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KkMmGgTt]i[Bb]|[KkMmGgTt][Bb]|[Bb])?")
_UNIT_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}


def parse_byte_size(value: object) -> int:
    """A plain integer, or a number with B, kB/MB/GB/TB (x1000) or KiB/MiB/GiB/TiB (x1024)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _BYTE_SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"invalid size {value!r} — use a number of bytes or a number with a unit: "
            "500MB, 10GiB, 2TB (kB/MB/GB/TB are x1000, KiB/MiB/GiB/TiB x1024)"
        )
    number, unit = match.groups()
    multiplier = 1
    if unit and len(unit) > 1:
        base = 1024 if unit[1] == "i" else 1000
        multiplier = base ** _UNIT_POWERS[unit[0].lower()]
    return int(Decimal(number) * multiplier)


def parse_list(value: object) -> tuple[str, ...]:
    """A comma-separated string (env) or a list of strings (TOML, flags); blanks and repeats go."""
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError(f"invalid list {value!r} — use comma-separated values")
    kept: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"invalid list item {item!r} — items must be strings")
        if item.strip():
            kept.append(item.strip())
    return tuple(dict.fromkeys(kept))


Duration = Annotated[float, BeforeValidator(parse_duration)]
ByteSize = Annotated[int, BeforeValidator(parse_byte_size)]
StrList = Annotated[tuple[str, ...], BeforeValidator(parse_list)]
