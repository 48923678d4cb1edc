"""From the command line to request values: argument types for dates and times (argparse
turns their errors into exit status 2), and the fields a command's flags set."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any


def given(args: argparse.Namespace, fields: Mapping[str, str]) -> dict[str, Any]:
    """``fields`` maps flag dest → API field; the flags given (not ``None``) by API field."""
    return {
        api: getattr(args, dest) for dest, api in fields.items() if getattr(args, dest) is not None
    }


def day(text: str) -> date:
    """``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r} — use YYYY-MM-DD") from None


def moment(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r} — use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
