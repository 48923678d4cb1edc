"""The settings model: every setting of the exporter as a typed, validated, frozen field.

`load_settings` (in ``load.py``) gathers the values from flags, environment and the TOML file;
the model only validates what it is given.
"""

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, SecretStr, create_model
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from capgo_exporter.collectors import COLLECTORS, REGISTRY, CollectorSpec, spec_of
from capgo_exporter.settings.names import ENV_PREFIX, Setting
from capgo_exporter.settings.plans import OrgPlans
from capgo_exporter.settings.units import ByteSize, Duration, StrList, format_duration
from capgo_exporter.settings.validators import (
    MIN_POLL_INTERVAL,
    ApiUrl,
    CollectorNames,
    EventsDays,
    ExistingFile,
    Instant,
    ListenAddress,
    LogFormatName,
    LogLevelName,
    PollInterval,
    TelemetryPath,
    WritableDir,
    split_listen_address,
)


class _DeclaredSettings(BaseSettings):
    """The settings declared before the collectors' intervals (`Settings` adds them from the
    registry, then declares the rest), in the order the docs and ``config`` list them."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    api_key: Annotated[
        SecretStr | None,
        Setting(
            # For one-off admin commands: command lines are visible to every local user.
            flag="--capgo.api-key",
            env="CAPGO_API_KEY",
            fallback_env="CAPGO_TOKEN",
            help="The Capgo API key. Prefer the environment or a file: a flag is visible to "
            "every local user. Also read from `CAPGO_TOKEN` and `~/.capgo`, like the Capgo CLI.",
        ),
    ] = None
    api_key_source: str | None = None  # where the key came from, e.g. "CAPGO_TOKEN"; never it
    api_key_file: Annotated[
        Path | None,
        Setting(
            flag="--capgo.api-key-file",
            env="CAPGO_API_KEY_FILE",
            help="A file holding the key (Docker and Kubernetes secrets).",
        ),
    ] = None
    api_url: Annotated[
        ApiUrl,
        Setting(
            flag="--capgo.api-url",
            env="CAPGO_API_URL",
            help="Capgo's API: change it for a self-hosted Capgo or the simulator.",
        ),
    ] = "https://api.capgo.app"

    listen_address: Annotated[
        ListenAddress,
        Setting(
            flag="--web.listen-address",
            former_env=("CAPGO_EXPORTER_LISTEN_ADDRESS",),
            help="Where `/metrics`, `/`, `/healthz` and `/readyz` are served: `host:port` or "
            "`:port` for every interface.",
        ),
    ] = ":10180"
    web_config_file: Annotated[
        ExistingFile | None,
        Setting(
            flag="--web.config.file",
            help="TLS, client certificates and basic auth, in the Prometheus exporter-toolkit "
            "format (the keys supported: README, Securing /metrics).",
        ),
    ] = None
    telemetry_path: Annotated[
        TelemetryPath,
        Setting(
            flag="--web.telemetry-path",
            former_env=("CAPGO_EXPORTER_TELEMETRY_PATH",),
            help="The path the metrics are served on.",
        ),
    ] = "/metrics"
    web_max_connections: Annotated[
        int,
        Field(ge=1, le=100_000),
        Setting(
            flag="--web.max-connections",
            help="Open HTTP connections at most; more are closed at once, before any thread is "
            "started for them. Idle kept-alive connections count until their timeout.",
        ),
    ] = 64
    log_level: Annotated[
        LogLevelName,
        Setting(
            flag="--log.level",
            help="`debug` (every API request), `info`, `warn` (or `warning`) or `error`.",
        ),
    ] = "info"
    log_format: Annotated[
        LogFormatName,
        Setting(
            flag="--log.format",
            help="`logfmt`, `json` for log collectors, or `console` (coloured on a terminal); "
            "each line starts with `ts`, `level` and `msg` in every format.",
        ),
    ] = "logfmt"

    collectors: Annotated[
        CollectorNames,
        Setting(
            flag="--collectors.enabled",
            former_env=("CAPGO_EXPORTER_COLLECTORS",),
            help="Collectors to run, comma-separated: "
            + ", ".join(f"`{name}`" for name in COLLECTORS)
            + ".",
        ),
    ] = COLLECTORS

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
        # before validating, which would lose where a bad value came from, and reads os.environ
        # where we take an injectable mapping. So the model validates only what it is given.
        return (init_settings,)


def _interval(spec: CollectorSpec) -> Any:
    """The poll interval field of a collector, declared by the registry. The validator reads
    api_url (a Capgo on loopback may be polled faster), which is declared before."""
    setting = Setting(
        flag=spec.interval_flag,
        # The name every collector's interval had before the naming rule.
        former_env=(f"{ENV_PREFIX}{spec.name.upper()}_INTERVAL",),
        help=f"How often {spec.polls} are polled (at least {format_duration(MIN_POLL_INTERVAL)}).",
    )
    return (Annotated[PollInterval, setting], spec.default_interval)


if TYPE_CHECKING:  # mypy sees the intervals through interval_for only
    _WithIntervals = _DeclaredSettings
else:
    _WithIntervals = create_model(
        "_WithIntervals",
        __base__=_DeclaredSettings,
        **{spec.interval_field: _interval(spec) for spec in REGISTRY.values()},
    )


class Settings(_WithIntervals):
    """The exporter's configuration. Build it with `load_settings`, which knows the sources."""

    devices_full_resync_interval: Annotated[
        PollInterval,
        Setting(
            flag="--collector.devices.full-resync-interval",
            former_env=("CAPGO_EXPORTER_DEVICES_FULL_RESYNC_INTERVAL",),
            help="How often every device is walked again, which also drops devices Capgo forgot.",
        ),
    ] = 86400.0
    max_age: Annotated[  # None: 3 times each collector's own interval
        Duration | None,
        Setting(
            flag="--collector.max-age",
            former_env=("CAPGO_EXPORTER_MAX_AGE",),
            help="Age past which a collector's last values stop being served, failing or still "
            "running, and its collector_up and capgo_up go to 0 (default: three times its "
            "interval).",
        ),
    ] = None

    requests_per_minute: Annotated[
        int,
        Field(ge=1, le=100_000),
        Setting(
            flag="--capgo.requests-per-minute",
            former_env=("CAPGO_EXPORTER_REQUESTS_PER_MINUTE",),
            help="The request budget shared by all collectors (a token bucket).",
        ),
    ] = 100
    concurrency: Annotated[
        int,
        Field(ge=1, le=64),
        Setting(
            flag="--capgo.concurrency",
            former_env=("CAPGO_EXPORTER_CONCURRENCY",),
            help="Requests in flight at most.",
        ),
    ] = 4
    request_timeout: Annotated[
        Duration,
        Setting(
            flag="--capgo.request-timeout",
            former_env=("CAPGO_EXPORTER_REQUEST_TIMEOUT",),
            help="Timeout of one request to Capgo.",
        ),
    ] = 30.0
    connect_timeout: Annotated[
        Duration,
        Setting(
            flag="--capgo.connect-timeout",
            former_env=("CAPGO_EXPORTER_CONNECT_TIMEOUT",),
            help="Timeout of connecting to Capgo.",
        ),
    ] = 5.0
    max_retries: Annotated[
        int,
        Field(ge=0, le=10),
        Setting(
            flag="--capgo.max-retries",
            former_env=("CAPGO_EXPORTER_MAX_RETRIES",),
            help="Retries of a failed GET (5xx, timeout, connection error, 429).",
        ),
    ] = 3

    orgs_allow: Annotated[
        StrList,
        Setting(
            flag="--orgs.allow", help="Only these organization ids (comma-separated); empty: all."
        ),
    ] = ()
    orgs_deny: Annotated[
        StrList, Setting(flag="--orgs.deny", help="Never these organization ids.")
    ] = ()
    apps_allow: Annotated[  # fnmatch globs
        StrList,
        Setting(flag="--apps.allow", help="Only these app ids; globs like `com.acme.*` work."),
    ] = ()
    apps_deny: Annotated[
        StrList, Setting(flag="--apps.deny", help="Never these app ids (globs work).")
    ] = ()

    max_bundles_per_app: Annotated[
        int,
        Field(ge=1, le=1000),
        Setting(
            flag="--collector.devices.max-bundles-per-app",
            former_env=("CAPGO_EXPORTER_MAX_BUNDLES_PER_APP",),
            help="Bundles per app with their own `capgo_app_devices` series; the rest fold "
            'into `bundle="other"`.',
        ),
    ] = 20
    native_versions_per_app: Annotated[
        int,
        Field(ge=1, le=1000),
        Setting(
            flag="--collector.devices.max-native-versions-per-app",
            former_env=("CAPGO_EXPORTER_NATIVE_VERSIONS_PER_APP",),
            help="Native builds per app with their own `capgo_app_devices_by_native_version` "
            'series; the rest fold into `native_version="other"` per platform.',
        ),
    ] = 10
    plugin_versions_per_app: Annotated[
        int,
        Field(ge=1, le=1000),
        Setting(
            flag="--collector.devices.max-plugin-versions-per-app",
            former_env=("CAPGO_EXPORTER_PLUGIN_VERSIONS_PER_APP",),
            help="Updater plugin versions per app with their own "
            "`capgo_app_devices_by_plugin_version` series; the rest fold into "
            '`plugin_version="other"`.',
        ),
    ] = 10
    bundles_per_app: Annotated[
        int,
        Field(ge=0, le=1000),
        Setting(
            flag="--collector.inventory.bundles-per-app",
            former_env=("CAPGO_EXPORTER_BUNDLES_PER_APP",),
            help="Newest bundles per app exposed with their creation time.",
        ),
    ] = 10
    device_page_size: Annotated[  # None: adaptive
        int | None,
        Field(ge=1, le=50_000),
        Setting(
            flag="--collector.devices.page-size",
            former_env=("CAPGO_EXPORTER_DEVICE_PAGE_SIZE",),
            help="Devices per request. Unset: 50,000, lowered to 999 (and remembered in the "
            "state directory) where Capgo's storage cuts pages at 1,000. Set: always this size.",
        ),
    ] = None
    events_days: Annotated[
        EventsDays,
        Setting(
            flag="--collector.events.days",
            former_env=("CAPGO_EXPORTER_EVENTS_DAYS",),
            help="Window of the `capgo_*events*` figures in whole UTC days ending today: "
            "1 (today so far), 3, 7 (like Capgo's log insights page) or 30.",
        ),
    ] = 7

    billing_cycle_start_day: Annotated[
        int,
        Field(ge=1, le=31),
        Setting(
            flag="--plan.billing-cycle-start-day",
            former_env=("CAPGO_EXPORTER_BILLING_CYCLE_START_DAY",),
            help="Day of the month your billing cycle starts (UTC).",
        ),
    ] = 1
    plan_mau_limit: Annotated[
        int | None,
        Field(ge=0),
        Setting(
            flag="--plan.mau-limit",
            help="Your plan's MAU limit: enables `capgo_org_monthly_active_users_limit` and the "
            "MAU alerts.",
        ),
    ] = None
    plan_storage_limit_bytes: Annotated[
        ByteSize | None,
        Setting(flag="--plan.storage-limit", help="Your plan's storage, e.g. `5GiB`."),
    ] = None
    plan_bandwidth_limit_bytes: Annotated[
        ByteSize | None,
        Setting(
            flag="--plan.bandwidth-limit", help="Your plan's bandwidth per cycle, e.g. `50GiB`."
        ),
    ] = None
    org_plans: OrgPlans = Field(default_factory=dict)  # by org id or name, over --plan.*

    state_dir: Annotated[
        WritableDir | None,
        Setting(
            flag="--state.dir",
            help="Where the device index is kept across restarts (in memory when unset).",
        ),
    ] = None
    clock_start: Annotated[  # None: the system clock
        Instant | None,
        Setting(
            flag="--clock.start",
            help="Run the exporter's clock from this instant (ISO 8601, e.g. "
            "`2026-12-05T12:00:00Z`) instead of now; it runs on at real speed. With `--demo` "
            "the simulated Capgo shares it, to see the demo on any day. Only with `--demo` or a "
            "Capgo on loopback (a simulator): against the real Capgo it is refused.",
        ),
    ] = None
    config_file: Annotated[
        Path | None,
        Setting(
            flag="--config.file",
            in_toml=False,
            help="A TOML file with any of these settings by their field name.",
        ),
    ] = None

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
