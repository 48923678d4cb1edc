"""Every setting of the exporter: one validated model, from flags, environment and a TOML file.

Precedence: explicit overrides (command-line flags) > environment > TOML file > defaults.
A bad value raises `SettingsError`, whose text is one line naming the setting the way the user
wrote it (env var, flag or ``file:key``) and what is allowed; the CLI prints it and exits 2.

``python -m capgo_exporter.settings`` prints the effective settings, the API key masked.
"""

import fnmatch
import ipaddress
import json
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn
from urllib.parse import urlsplit

import annotated_types
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from capgo_exporter.collectors import COLLECTORS, REGISTRY, CollectorName, spec_of

LogLevel = Literal["debug", "info", "warn", "error"]
LogFormat = Literal["logfmt", "json", "console"]
# Accepted on input, stored as the canonical name.
_LEVEL_ALIASES = {"warning": "warn"}

# The shortest poll interval of a collector that calls Capgo: a shorter one would spend the
# shared request budget (and Capgo's capacity) on figures that change more slowly than that.
MIN_POLL_INTERVAL = 10.0


class SettingsError(ValueError):
    """An invalid setting. ``str()`` is one line naming the setting and what is allowed."""

    def __init__(self, message: str) -> None:
        # The message quotes OS and TOML parser text; a stray newline would break the
        # one-line contract the CLI and log collectors rely on.
        super().__init__(" ".join(message.splitlines()))


# --- value parsers (used as pydantic validators; their ValueError text becomes the message) ---

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


def _parse_list(value: object) -> tuple[str, ...]:
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


def _parse_collectors(value: object) -> tuple[CollectorName, ...]:
    names = _parse_list(value)
    valid = ", ".join(sorted(COLLECTORS))
    for name in names:
        if name not in COLLECTORS:
            raise ValueError(f"unknown collector {name!r} — valid: {valid}")
    if not names:
        raise ValueError(f"no collector enabled — pick one or more of: {valid}")
    return tuple(c for c in COLLECTORS if c in names)


def _choice(*allowed: str, aliases: Mapping[str, str] | None = None) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = value.strip().lower() if isinstance(value, str) else ""
        text = (aliases or {}).get(text, text)
        if text in allowed:
            return text
        raise ValueError(f"invalid value {value!r} — use one of: {', '.join(allowed)}")

    return check


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


def _check_listen_address(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"invalid listen address {value!r} — use host:port or :port")
    split_listen_address(value.strip())
    return value.strip()


def _check_api_url(value: object) -> str:
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


# Paths the exporter serves itself; the telemetry path may not shadow them.
_RESERVED_PATHS = ("/", "/healthz", "/readyz")


def _parse_instant(value: object) -> object:
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


def _check_telemetry_path(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", text) or text in _RESERVED_PATHS:
        raise ValueError(
            f"invalid path {value!r} — use an absolute URL path such as /metrics, other than "
            f"{', '.join(_RESERVED_PATHS)}"
        )
    if text.startswith("/docs/"):
        raise ValueError(f"invalid path {value!r} — /docs/ holds the served documentation")
    return text


def _existing_file(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError(f"{str(path)!r} is not an existing file")
    return path


def _writable_dir(path: Path | None) -> Path | None:
    if path is None:
        return None
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


Duration = Annotated[float, BeforeValidator(parse_duration)]
PollInterval = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_poll_interval)]
ByteSize = Annotated[int, BeforeValidator(parse_byte_size)]
StrList = Annotated[tuple[str, ...], BeforeValidator(_parse_list)]


class _DeclaredSettings(BaseSettings):
    """Every setting but the collectors' intervals, which `Settings` adds from the registry."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr | None = None
    api_key_source: str | None = None  # where the key came from, e.g. "CAPGO_TOKEN"; never it
    api_key_file: Path | None = None
    api_url: Annotated[str, BeforeValidator(_check_api_url)] = "https://api.capgo.app"

    listen_address: Annotated[str, BeforeValidator(_check_listen_address)] = ":10180"
    web_config_file: Annotated[Path | None, AfterValidator(_existing_file)] = None
    telemetry_path: Annotated[str, BeforeValidator(_check_telemetry_path)] = "/metrics"
    web_max_connections: Annotated[int, Field(ge=1, le=100_000)] = 64
    log_level: Annotated[
        LogLevel, BeforeValidator(_choice(*LogLevel.__args__, aliases=_LEVEL_ALIASES))
    ] = "info"
    log_format: Annotated[LogFormat, BeforeValidator(_choice(*LogFormat.__args__))] = "logfmt"

    collectors: Annotated[tuple[CollectorName, ...], BeforeValidator(_parse_collectors)] = (
        COLLECTORS
    )
    devices_full_resync_interval: PollInterval = 86400.0
    max_age: Duration | None = None  # None: 3 times each collector's own interval

    requests_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 100
    concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    request_timeout: Duration = 30.0
    connect_timeout: Duration = 5.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3

    orgs_allow: StrList = ()
    orgs_deny: StrList = ()
    apps_allow: StrList = ()  # fnmatch globs, e.g. "com.acme.*"
    apps_deny: StrList = ()

    max_bundles_per_app: Annotated[int, Field(ge=1, le=1000)] = 20
    native_versions_per_app: Annotated[int, Field(ge=1, le=1000)] = 10
    plugin_versions_per_app: Annotated[int, Field(ge=1, le=1000)] = 10
    bundles_per_app: Annotated[int, Field(ge=0, le=1000)] = 10
    # None: adaptive (50,000, down to 999 where Capgo's storage caps pages at 1,000).
    device_page_size: Annotated[int | None, Field(ge=1, le=50_000)] = None

    # The window of the events collector in whole UTC days: the values Capgo's route accepts.
    events_days: Literal[1, 3, 7, 30] = 7

    billing_cycle_start_day: Annotated[int, Field(ge=1, le=31)] = 1
    plan_mau_limit: Annotated[int | None, Field(ge=0)] = None
    plan_storage_limit_bytes: ByteSize | None = None
    plan_bandwidth_limit_bytes: ByteSize | None = None

    state_dir: Annotated[Path | None, AfterValidator(_writable_dir)] = None
    # None: the system clock. Else the instant the exporter's clock starts at (demos, tests).
    clock_start: Annotated[datetime | None, BeforeValidator(_parse_instant)] = None
    config_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `load_settings` gathers flags, env and TOML itself: pydantic-settings merges its sources
        # before validating, which would lose where a bad value came from, and it reads
        # os.environ where we take an injectable mapping. So the model validates only what it
        # is given.
        return (init_settings,)


# One poll interval per collector (``inventory_interval``...), declared by the registry. They
# come after every declared field: their validator reads api_url, validated before them.
_INTERVAL_FIELDS: dict[str, Any] = {
    spec.interval_field: (PollInterval, spec.default_interval) for spec in REGISTRY.values()
}
if TYPE_CHECKING:  # mypy sees the intervals through interval_for only
    _WithIntervals = _DeclaredSettings
else:
    _WithIntervals = create_model("_WithIntervals", __base__=_DeclaredSettings, **_INTERVAL_FIELDS)


class Settings(_WithIntervals):
    """The exporter's configuration. Build it with `load_settings`, which knows the sources."""

    @property
    def listen_host(self) -> str:
        """Host part of `listen_address`, brackets removed; "" means every interface."""
        return split_listen_address(self.listen_address)[0]

    @property
    def listen_port(self) -> int:
        return split_listen_address(self.listen_address)[1]

    def interval_for(self, collector: str) -> float:
        """Poll interval of a collector, in seconds. KeyError for an unknown collector."""
        return float(getattr(self, spec_of(collector).interval_field))

    def max_age_for(self, collector: str) -> float:
        """Age in seconds past which a collector's series are dropped rather than served."""
        return effective_max_age(self.interval_for(collector), self.max_age)

    def org_selected(self, org_id: str) -> bool:
        """An empty allow list allows every org; the deny list wins over it."""
        return (not self.orgs_allow or org_id in self.orgs_allow) and org_id not in self.orgs_deny

    def app_selected(self, app_id: str) -> bool:
        """As `org_selected`, with fnmatch globs. Case-sensitive on every platform."""

        def matches(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(app_id, p) for p in patterns)

        return (not self.apps_allow or matches(self.apps_allow)) and not matches(self.apps_deny)


def effective_max_age(interval: float, configured: float | None) -> float:
    """The max age of a collector's data: as configured, else three of its intervals (so one
    or two failed runs do not blank the dashboards)."""
    return configured if configured is not None else 3 * interval


def _env_name(field: str) -> str:
    return f"CAPGO_EXPORTER_{field.upper()}"


# Field → environment variable, so messages and docs name what the user actually sets.
ENV_NAMES: dict[str, str] = {
    "api_key": "CAPGO_API_KEY",
    "api_key_file": "CAPGO_API_KEY_FILE",
    "api_url": "CAPGO_API_URL",
    **{
        field: _env_name(field)
        for field in Settings.model_fields
        if field not in ("api_key", "api_key_source", "api_key_file", "api_url")
    },
    **{spec.interval_field: spec.interval_env for spec in REGISTRY.values()},
    "plan_storage_limit_bytes": "CAPGO_EXPORTER_PLAN_STORAGE_LIMIT",
    "plan_bandwidth_limit_bytes": "CAPGO_EXPORTER_PLAN_BANDWIDTH_LIMIT",
}

# Field → Go-style flag (Prometheus exporter conventions: --web.*, --log.*, --collector.*).
FLAG_NAMES: dict[str, str] = {
    # Command lines are visible to every local user (ps, /proc): the daemon should take the
    # key from the environment or a file. The flag exists for one-off admin commands.
    "api_key": "--capgo.api-key",
    "api_key_file": "--capgo.api-key-file",
    "api_url": "--capgo.api-url",
    "listen_address": "--web.listen-address",
    "web_config_file": "--web.config.file",
    "telemetry_path": "--web.telemetry-path",
    "web_max_connections": "--web.max-connections",
    "log_level": "--log.level",
    "log_format": "--log.format",
    "collectors": "--collectors.enabled",
    **{spec.interval_field: spec.interval_flag for spec in REGISTRY.values()},
    "devices_full_resync_interval": "--collector.devices.full-resync-interval",
    "max_age": "--collector.max-age",
    "requests_per_minute": "--capgo.requests-per-minute",
    "concurrency": "--capgo.concurrency",
    "request_timeout": "--capgo.request-timeout",
    "connect_timeout": "--capgo.connect-timeout",
    "max_retries": "--capgo.max-retries",
    "orgs_allow": "--orgs.allow",
    "orgs_deny": "--orgs.deny",
    "apps_allow": "--apps.allow",
    "apps_deny": "--apps.deny",
    "max_bundles_per_app": "--collector.devices.max-bundles-per-app",
    "native_versions_per_app": "--collector.devices.max-native-versions-per-app",
    "plugin_versions_per_app": "--collector.devices.max-plugin-versions-per-app",
    "bundles_per_app": "--collector.inventory.bundles-per-app",
    "device_page_size": "--collector.devices.page-size",
    "events_days": "--collector.events.days",
    "billing_cycle_start_day": "--plan.billing-cycle-start-day",
    "plan_mau_limit": "--plan.mau-limit",
    "plan_storage_limit_bytes": "--plan.storage-limit",
    "plan_bandwidth_limit_bytes": "--plan.bandwidth-limit",
    "state_dir": "--state.dir",
    "clock_start": "--clock.start",
    "config_file": "--config.file",
}

# What a TOML file may set: not itself, and not the derived key source.
_TOML_KEYS = frozenset(Settings.model_fields) - {"config_file", "api_key_source"}
_PATH_FIELDS = ("api_key_file", "web_config_file", "state_dir")

# One source's values: field → (raw value, how the user named it).
_Layer = dict[str, tuple[object, str]]


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Settings:
    """Validate the settings from flags (``overrides``, by field name), env and the TOML file.

    An override of None means "not given", so argparse defaults can be passed as they are.
    Raises `SettingsError`.
    """
    env = os.environ if environ is None else environ
    flags: _Layer = {}
    for field, value in (overrides or {}).items():
        if field not in FLAG_NAMES:
            raise SettingsError(f"unknown setting {field!r}")
        if value is not None:
            flags[field] = (value, FLAG_NAMES[field])
    # An empty variable counts as unset: compose files and Helm charts often pass `VAR=` through.
    environment: _Layer = {
        field: (value, name)
        for field, name in ENV_NAMES.items()
        if (value := env.get(name, "").strip())
    }
    config = flags.get("config_file") or environment.get("config_file")
    toml = _read_toml(Path(str(config[0])), config[1]) if config else {}
    layers = (flags, environment, toml)  # highest precedence first

    merged: _Layer = {}
    for layer in reversed(layers):
        merged.update(layer)
    for field in ("api_key", "api_key_file"):
        merged.pop(field, None)
    key, key_source, key_file = _resolve_api_key(layers, env, home)
    values = {field: value for field, (value, _) in merged.items()}
    values |= {"api_key": key, "api_key_source": key_source, "api_key_file": key_file}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        # `from None`: the chained ValidationError would print the raw input in a traceback.
        raise _settings_error(exc, {f: origin for f, (_, origin) in merged.items()}) from None


def _read_toml(path: Path, origin: str) -> _Layer:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise SettingsError(f"{origin}: cannot read {str(path)!r}: {exc.strerror}") from None
    except ValueError as exc:  # TOMLDecodeError, or bytes that are not UTF-8
        raise SettingsError(f"{path}: invalid TOML: {exc}") from None
    layer: _Layer = {}
    for key, value in data.items():
        if key not in _TOML_KEYS:
            close = get_close_matches(key, _TOML_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SettingsError(f"{path}:{key}: unknown setting{hint}")
        # Relative paths in a config file mean "next to the file", as in Prometheus' own config.
        if key in _PATH_FIELDS and isinstance(value, str):
            value = str(path.parent / value)
        layer[key] = (value, f"{path}:{key}")
    return layer


def _resolve_api_key(
    layers: tuple[_Layer, ...], env: Mapping[str, str], home: Path | None
) -> tuple[SecretStr | None, str | None, Path | None]:
    """The key, its source and its file: the exporter's own settings first, in precedence order,
    then what the Capgo CLI uses (CAPGO_TOKEN, ~/.capgo) so its users need no new setup."""
    for layer in layers:
        if "api_key" in layer:
            value, origin = layer["api_key"]
            return _checked_key(value, origin), origin, None
        if "api_key_file" in layer:
            value, origin = layer["api_key_file"]
            path = Path(str(value))
            text = _read_key_file(path, origin)
            if not text:
                raise SettingsError(f"{origin}: {str(path)!r} is empty — it must hold the API key")
            return _checked_key(text, origin), origin, path
    if token := env.get("CAPGO_TOKEN", "").strip():
        return _checked_key(token, "CAPGO_TOKEN"), "CAPGO_TOKEN", None
    if home is None:
        try:
            home = Path.home()
        except RuntimeError:  # no HOME and no passwd entry, as in some minimal containers
            return None, None, None
    try:
        text = _read_key_file(home / ".capgo", "~/.capgo")
    except FileNotFoundError:
        return None, None, None
    if not text:
        return None, None, None
    return _checked_key(text, "~/.capgo"), "~/.capgo", None


def _read_key_file(path: Path, origin: str) -> str:
    """The file's text without surrounding whitespace. FileNotFoundError only for ~/.capgo."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if origin == "~/.capgo":
            raise
        raise SettingsError(f"{origin}: cannot read {str(path)!r}: file not found") from None
    except OSError as exc:
        raise SettingsError(f"{origin}: cannot read {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        # The decoder's message quotes a byte of the key.
        raise SettingsError(f"{origin}: {str(path)!r} is not UTF-8 text") from None


def _checked_key(value: object, origin: str) -> SecretStr:
    # Messages here must never include the value.
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{origin}: the API key must be a non-empty string")
    key = value.strip()
    # The key travels in HTTP headers: anything but printable ASCII is a paste error, and
    # header encoding errors would quote it.
    if not all(33 <= ord(char) <= 126 for char in key):
        raise SettingsError(
            f"{origin}: the API key contains whitespace, control or non-ASCII characters "
            "— give the key alone, on one line"
        )
    return SecretStr(key)


def _settings_error(exc: ValidationError, origins: Mapping[str, str]) -> SettingsError:
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0])
    where = origins.get(field, ENV_NAMES.get(field, field))
    if error["type"] == "value_error":  # our parsers: their text already says what is allowed
        return SettingsError(f"{where}: {error['ctx']['error']}")
    metadata = Settings.model_fields[field].metadata
    low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
    if low is not None and high is not None:
        allowed = f"use a whole number from {low} to {high}"
    elif low is not None:
        allowed = f"use a whole number ≥ {low}"
    else:
        allowed = error["msg"][:1].lower() + error["msg"][1:]
    return SettingsError(f"{where}: invalid value {error['input']!r} — {allowed}")


def render_settings(settings: Settings) -> str:
    """The effective settings as TOML a user can start a config file from; the key masked."""
    lines = []
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if field == "api_key_source":
            continue  # shown with api_key
        if field == "api_key":
            source = settings.api_key_source
            line = f"# api_key = ******** (from {source})" if source else "# api_key = (not set)"
        elif value is None:
            line = f"# {field} = (not set)"
        elif field == "config_file":  # not a key a config file may hold
            line = f"# {field} = {json.dumps(str(value))}"
        elif isinstance(value, float):  # every float setting is a duration
            line = f'{field} = "{format_duration(value)}"'
        elif isinstance(value, int):
            line = f"{field} = {value}"
        elif isinstance(value, tuple):
            line = f"{field} = {json.dumps(list(value))}"
        else:
            line = f"{field} = {json.dumps(str(value))}"
        lines.append(line)
    return "\n".join(lines)


def fail(message: str) -> NoReturn:
    """Print ``capgo-exporter: <message>`` to stderr and exit 2, the usage-error status."""
    print(f"capgo-exporter: {message}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    print(render_settings(settings))


if __name__ == "__main__":
    main()
