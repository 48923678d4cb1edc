"""The settings model: every setting of the exporter as a typed, validated, frozen field.

`load_settings` (in ``load.py``) gathers the values from flags, environment and the TOML file;
the model only validates what it is given.
"""

import fnmatch
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, create_model
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from capgo_exporter.collectors import COLLECTORS, REGISTRY, CollectorName, spec_of
from capgo_exporter.settings.units import ByteSize, Duration, StrList
from capgo_exporter.settings.validators import (
    PollInterval,
    check_api_url,
    check_listen_address,
    check_telemetry_path,
    choice,
    existing_file,
    parse_collectors,
    parse_instant,
    split_listen_address,
    writable_dir,
)

LogLevel = Literal["debug", "info", "warn", "error"]
LogFormat = Literal["logfmt", "json", "console"]
# Accepted on input, stored as the canonical name.
_LEVEL_ALIASES = {"warning": "warn"}


class _DeclaredSettings(BaseSettings):
    """Every setting but the collectors' intervals, which `Settings` adds from the registry."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr | None = None
    api_key_source: str | None = None  # where the key came from, e.g. "CAPGO_TOKEN"; never it
    api_key_file: Path | None = None
    api_url: Annotated[str, BeforeValidator(check_api_url)] = "https://api.capgo.app"

    listen_address: Annotated[str, BeforeValidator(check_listen_address)] = ":10180"
    web_config_file: Annotated[Path | None, AfterValidator(existing_file)] = None
    telemetry_path: Annotated[str, BeforeValidator(check_telemetry_path)] = "/metrics"
    web_max_connections: Annotated[int, Field(ge=1, le=100_000)] = 64
    log_level: Annotated[
        LogLevel, BeforeValidator(choice(*LogLevel.__args__, aliases=_LEVEL_ALIASES))
    ] = "info"
    log_format: Annotated[LogFormat, BeforeValidator(choice(*LogFormat.__args__))] = "logfmt"

    collectors: Annotated[tuple[CollectorName, ...], BeforeValidator(parse_collectors)] = COLLECTORS
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

    state_dir: Annotated[Path | None, AfterValidator(writable_dir)] = None
    # None: the system clock. Else the instant the exporter's clock starts at (demos, tests).
    clock_start: Annotated[datetime | None, BeforeValidator(parse_instant)] = None
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
