"""Every setting of the exporter: one validated model, from flags, environment and a TOML file.

Each setting is declared once, in its model field: its flag and help (`Setting`, in
``names.py`` with the rule that derives the environment variable from the flag). The modules,
each with one job: ``units`` (durations, byte sizes, lists), ``validators`` (single values),
``names`` (declarations and the naming rule), ``plans`` (a plan per organization) and
``plan_lookup`` (an organization's plan), ``model`` (the `Settings` model), ``table`` (the
declarations by field, and the name tables derived from them), ``sources`` (flags,
environment and TOML file read into layers), ``load`` (precedence, the key, error messages),
``render`` (the effective settings as TOML; defaults and help as people read them), ``flags``
(the command-line flags), ``errors`` (`SettingsError`, and `fail` for the command line).

``capgo-exporter config`` and ``python -m capgo_exporter.settings`` print the effective
settings, the API key masked.
"""

from capgo_exporter.settings.errors import SettingsError, fail
from capgo_exporter.settings.flags import add_setting_flags, flag_overrides
from capgo_exporter.settings.load import load_settings, warn_on_stderr
from capgo_exporter.settings.model import Settings, effective_max_age
from capgo_exporter.settings.names import ENV_PREFIX, Setting, env_name
from capgo_exporter.settings.render import default_text, flag_help, render_settings
from capgo_exporter.settings.table import (
    ENV_NAMES,
    FLAG_NAMES,
    FORMER_ENV_NAMES,
    SETTINGS,
    TOML_KEYS,
)
from capgo_exporter.settings.units import format_duration, parse_byte_size, parse_duration
from capgo_exporter.settings.validators import (
    MIN_POLL_INTERVAL,
    LogFormat,
    LogLevel,
    is_loopback_url,
    split_listen_address,
)

__all__ = [
    "ENV_NAMES",
    "ENV_PREFIX",
    "FLAG_NAMES",
    "FORMER_ENV_NAMES",
    "MIN_POLL_INTERVAL",
    "SETTINGS",
    "TOML_KEYS",
    "LogFormat",
    "LogLevel",
    "Setting",
    "Settings",
    "SettingsError",
    "add_setting_flags",
    "default_text",
    "effective_max_age",
    "env_name",
    "fail",
    "flag_help",
    "flag_overrides",
    "format_duration",
    "is_loopback_url",
    "load_settings",
    "parse_byte_size",
    "parse_duration",
    "render_settings",
    "split_listen_address",
    "warn_on_stderr",
]
