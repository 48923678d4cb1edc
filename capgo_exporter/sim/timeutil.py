"""Clock type and the timestamp formats the Capgo API uses."""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

Clock = Callable[[], datetime]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The two formats GET /device accepts for `updated_at` (Capgo's public/device/get.ts); any
# other, or an impossible date such as Feb 31, is 400 invalid_updated_at.
_UPDATED_AT_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$")
_UPDATED_AT_SQL = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$")


def real_clock() -> datetime:
    return datetime.now(UTC)


def iso_z(moment: datetime) -> str:
    """ISO 8601 with milliseconds and a Z suffix, as Postgres/JS timestamps come back."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def ms_iso_z(ms: int) -> str:
    """iso_z of an epoch-ms instant, without a datetime: every device row has one, and a
    million-device walk formats a million (same text as iso_z(from_ms(ms)))."""
    days, in_day = divmod(ms, 86_400_000)
    seconds, millis = divmod(in_day, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_iso_day(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_day(days: int) -> str:
    return (EPOCH + timedelta(days=days)).strftime("%Y-%m-%d")


def parse_updated_at(text: str) -> int | None:
    """Epoch ms for an accepted `updated_at` filter value, None when invalid (incl. Feb 31)."""
    match = _UPDATED_AT_ISO.match(text) or _UPDATED_AT_SQL.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.groups()[6] if len(match.groups()) > 6 else None
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    millis = int((fraction or "0").ljust(3, "0"))
    return to_ms(moment) + millis


def parse_js_date(text: str) -> datetime | None:
    """The subset of JavaScript `new Date(text)` inputs clients send: a date or an ISO time."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def billing_cycle_start(today: date, cycle_start_day: int) -> datetime:
    """Most recent occurrence of `cycle_start_day` (clamped to the month's length), UTC midnight."""

    def clamped(year: int, month: int) -> date:
        return date(year, month, min(cycle_start_day, calendar.monthrange(year, month)[1]))

    start = clamped(today.year, today.month)
    if start > today:
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        start = clamped(year, month)
    return datetime(start.year, start.month, start.day, tzinfo=UTC)
