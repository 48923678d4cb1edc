"""The three sources of settings, each read into a layer: field → (raw value, the name the
user gave it: a flag, an environment variable or ``file:key``), so a message can name the
setting the way it was written. `load_settings` merges and validates them."""

import tomllib
from collections.abc import Callable, Mapping
from difflib import get_close_matches
from pathlib import Path

from capgo_exporter.settings.errors import SettingsError
from capgo_exporter.settings.names import ENV_PREFIX, is_setting_name
from capgo_exporter.settings.table import (
    ENV_NAMES,
    FLAG_NAMES,
    FORMER_ENV_NAMES,
    SETTINGS,
    TOML_KEYS,
)

Layer = dict[str, tuple[object, str]]

# Paths in a config file are relative to the file.
_PATH_FIELDS = ("api_key_file", "web_config_file", "state_dir")


def flag_layer(overrides: Mapping[str, object]) -> Layer:
    """Values by field name; None means "not given", so argparse defaults pass as they are."""
    layer: Layer = {}
    for field, value in overrides.items():
        if field not in FLAG_NAMES:
            raise SettingsError(f"unknown setting {field!r}")
        if value is not None:
            layer[field] = (value, FLAG_NAMES[field])
    return layer


def env_layer(env: Mapping[str, str], warn: Callable[[str], None]) -> Layer:
    """The settings the environment sets. An empty variable counts as unset: compose files and
    Helm charts often pass ``VAR=`` through.

    A former name still sets its setting, and ``warn`` is told the name to use instead; the
    current and a former name set to different values are refused, since either choice would
    silently drop one. An unknown ``CAPGO_EXPORTER_*`` variable is refused, as an unknown key
    of a config file is: it is most likely a typo, which would otherwise be ignored."""
    _refuse_unknown(env)
    layer: Layer = {}
    for field, setting in SETTINGS.items():
        names = (setting.env_name, *setting.former_env)
        given = {name: value for name in names if (value := env.get(name, "").strip())}
        if not given:
            continue
        if len(set(given.values())) > 1:
            raise SettingsError(
                f"{' and '.join(given)} are names of one setting, set to different values "
                f"— keep {setting.env_name} alone"
            )
        for name in given:
            if name != setting.env_name:
                warn(f"{name} is deprecated: rename it {setting.env_name}")
        name, value = next(iter(given.items()))
        layer[field] = (value, name)
    return layer


def _refuse_unknown(env: Mapping[str, str]) -> None:
    known = {*ENV_NAMES.values(), *FORMER_ENV_NAMES}
    for name in sorted(env):
        if name in known or not is_setting_name(name) or not env[name].strip():
            continue
        suggestion = _closest_name(name)
        hint = f" (did you mean {suggestion}?)" if suggestion else ""
        raise SettingsError(f"{name}: unknown setting{hint}")


def _closest_name(name: str) -> str | None:
    """The current variable ``name`` most likely meant, compared without the prefixes every
    name shares (which would make any two look alike). A former name's typo gets the current
    name; ``CAPGO_EXPORTER_API_KEY`` gets ``CAPGO_API_KEY``."""

    def words(variable: str) -> str:
        return variable.removeprefix(ENV_PREFIX).removeprefix("CAPGO_")

    candidates = {words(current): current for current in ENV_NAMES.values()}
    candidates |= {words(old): ENV_NAMES[field] for old, field in FORMER_ENV_NAMES.items()}
    close = get_close_matches(words(name), list(candidates), n=1)
    return candidates[close[0]] if close else None


def toml_layer(path: Path, origin: str) -> Layer:
    """The keys of a TOML file (the settings' field names); ``origin`` names the setting that
    named the file, for a file that cannot be read."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise SettingsError(f"{origin}: cannot read {str(path)!r}: {exc.strerror}") from None
    except ValueError as exc:  # TOMLDecodeError, or bytes that are not UTF-8
        raise SettingsError(f"{path}: invalid TOML: {exc}") from None
    layer: Layer = {}
    for key, value in data.items():
        if key not in TOML_KEYS:
            close = get_close_matches(key, TOML_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SettingsError(f"{path}:{key}: unknown setting{hint}")
        # Relative paths in a config file mean "next to the file", as in Prometheus' own config.
        if key in _PATH_FIELDS and isinstance(value, str):
            value = str(path.parent / value)
        layer[key] = (value, f"{path}:{key}")
    return layer
