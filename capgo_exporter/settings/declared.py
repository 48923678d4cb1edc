"""The settings declared first: the key, where Capgo is, the HTTP server, logs and which
collectors run. `Settings` (model.py) adds each collector's interval from the registry, then
the rest, in the order the docs and ``config`` list them."""

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.settings.names import Setting
from capgo_exporter.settings.validators import (
    ApiUrl,
    CollectorNames,
    ExistingFile,
    ListenAddress,
    LogFormatName,
    LogLevelName,
    TelemetryPath,
)


class DeclaredSettings(BaseSettings):
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
            help="Open HTTP connections at most. Past it a new connection takes the slot of one "
            "still reading its request, else idle, which is closed (a reading one at its header "
            "deadline); only when every one is serving a request is the new one closed at once, "
            "before any thread is started for it.",
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
