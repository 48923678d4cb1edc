"""Checks of single values: addresses, URLs, paths, choices, collectors, poll intervals.

Each is a pydantic validator; the text of the ValueError it raises becomes the message that
names the setting, so it says what is allowed.
"""

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from capgo_exporter.collectors import COLLECTORS, CollectorName
from capgo_exporter.settings.units import format_duration, parse_duration, parse_list

# The shortest poll interval of a collector that calls Capgo: a shorter one would spend the
# shared request budget (and Capgo's capacity) on figures that change more slowly than that.
MIN_POLL_INTERVAL = 10.0


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _poll_interval(seconds: float, info: ValidationInfo) -> float:
    # A Capgo on loopback is the simulator or a test double: nothing there needs sparing, and
    # end-to-end tests poll it every few seconds. (api_url is declared first, so it is known.)
    api_url = info.data.get("api_url")
    local = isinstance(api_url, str) and is_loopback_url(api_url)
    if seconds < MIN_POLL_INTERVAL and not local:
        raise ValueError(
            f"invalid interval {format_duration(seconds)} — the shortest is "
            f"{format_duration(MIN_POLL_INTERVAL)}, to spare Capgo's API"
        )
    return seconds


PollInterval = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_poll_interval)]


def parse_collectors(value: object) -> tuple[CollectorName, ...]:
    names = parse_list(value)
    valid = ", ".join(sorted(COLLECTORS))
    for name in names:
        if name not in COLLECTORS:
            raise ValueError(f"unknown collector {name!r} — valid: {valid}")
    if not names:
        raise ValueError(f"no collector enabled — pick one or more of: {valid}")
    return tuple(c for c in COLLECTORS if c in names)


CollectorNames = Annotated[tuple[CollectorName, ...], BeforeValidator(parse_collectors)]


def choice(*allowed: str, aliases: Mapping[str, str] | None = None) -> Callable[[object], str]:
    """One of ``allowed``, case-insensitive; ``aliases`` maps other spellings to one of them."""

    def check(value: object) -> str:
        text = value.strip().lower() if isinstance(value, str) else ""
        text = (aliases or {}).get(text, text)
        if text in allowed:
            return text
        raise ValueError(f"invalid value {value!r} — use one of: {', '.join(allowed)}")

    return check


LogLevel = Literal["debug", "info", "warn", "error"]
LogFormat = Literal["logfmt", "json", "console"]
# "warning" is accepted on input and stored as "warn", the name Prometheus exporters use.
LogLevelName = Annotated[
    LogLevel, BeforeValidator(choice(*get_args(LogLevel), aliases={"warning": "warn"}))
]
LogFormatName = Annotated[LogFormat, BeforeValidator(choice(*get_args(LogFormat)))]


_HOST = re.compile(r"[A-Za-z0-9._-]*")


def split_listen_address(value: str) -> tuple[str, int]:
    """``host:port``, ``:port`` or ``[ipv6]:port`` → (host without brackets, or "", port)."""
    error = ValueError(
        f"invalid listen address {value!r} — use host:port, :port or [ipv6]:port "
        "with a port from 1 to 65535"
    )
    host, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise error
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise error from None
    elif not _HOST.fullmatch(host):
        raise error
    return host, int(port)


def check_listen_address(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"invalid listen address {value!r} — use host:port or :port")
    split_listen_address(value.strip())
    return value.strip()


ListenAddress = Annotated[str, BeforeValidator(check_listen_address)]


def _whole_number_text(value: object) -> object:
    # Flags and the environment give text; a Literal of ints accepts only ints.
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() else value


# The events collector's window in whole UTC days: the values Capgo's route accepts.
EventsDays = Annotated[Literal[1, 3, 7, 30], BeforeValidator(_whole_number_text)]


def check_api_url(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    error = ValueError(f"invalid URL {value!r} — use http(s)://host[:port][/path]")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 — accessing it validates the port
    except ValueError:
        raise error from None
    # Checked before anything echoes the value: the password must not reach the message.
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not allowed — remove the user:password@ part")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise error
    return text.rstrip("/")


ApiUrl = Annotated[str, BeforeValidator(check_api_url)]


def parse_instant(value: object) -> object:
    """ISO 8601 (``2026-12-05T12:00:00Z``; a date alone is its midnight), read as UTC when it
    names no offset. A TOML datetime arrives already parsed."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{text!r} is not an ISO 8601 instant, e.g. 2026-12-05T12:00:00Z"
            ) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


Instant = Annotated[datetime, BeforeValidator(parse_instant)]


# Paths the exporter serves itself; the telemetry path may not shadow them.
_RESERVED_PATHS = ("/", "/healthz", "/readyz")


def check_telemetry_path(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", text) or text in _RESERVED_PATHS:
        raise ValueError(
            f"invalid path {value!r} — use an absolute URL path such as /metrics, other than "
            f"{', '.join(_RESERVED_PATHS)}"
        )
    if text.startswith("/docs/"):
        raise ValueError(f"invalid path {value!r} — /docs/ holds the served documentation")
    return text


TelemetryPath = Annotated[str, BeforeValidator(check_telemetry_path)]


def existing_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not an existing file")
    return path


ExistingFile = Annotated[Path, AfterValidator(existing_file)]


def writable_dir(path: Path) -> Path:
    # The directory itself is created, not its parents: a typo in a parent would otherwise
    # grow a tree somewhere unexpected (as root, under a service manager).
    if not path.parent.is_dir():
        raise ValueError(f"{str(path)!r}: its parent directory {str(path.parent)!r} does not exist")
    try:
        path.mkdir(exist_ok=True)
    except FileExistsError:
        raise ValueError(f"{str(path)!r} exists and is not a directory") from None
    except OSError as exc:
        raise ValueError(f"cannot create directory {str(path)!r}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"directory {str(path)!r} is not writable")
    return path


WritableDir = Annotated[Path, AfterValidator(writable_dir)]
