"""Every setting of the exporter: one validated model, from flags, environment and a TOML file.

The package's modules, each with one job: ``units`` (durations, byte sizes, lists),
``validators`` (single values), ``model`` (the `Settings` model), ``load`` (sources,
precedence, error messages), ``render`` (the effective settings as TOML).

``python -m capgo_exporter.settings`` prints the effective settings, the API key masked.
"""

from capgo_exporter.settings.errors import SettingsError, fail
from capgo_exporter.settings.load import load_settings
from capgo_exporter.settings.model import (
    ENV_NAMES,
    FLAG_NAMES,
    LogFormat,
    LogLevel,
    Settings,
    effective_max_age,
)
from capgo_exporter.settings.render import render_settings
from capgo_exporter.settings.units import format_duration, parse_byte_size, parse_duration
from capgo_exporter.settings.validators import (
    MIN_POLL_INTERVAL,
    is_loopback_url,
    split_listen_address,
)

__all__ = [
    "ENV_NAMES",
    "FLAG_NAMES",
    "MIN_POLL_INTERVAL",
    "LogFormat",
    "LogLevel",
    "Settings",
    "SettingsError",
    "effective_max_age",
    "fail",
    "format_duration",
    "is_loopback_url",
    "load_settings",
    "parse_byte_size",
    "parse_duration",
    "render_settings",
    "split_listen_address",
]
