"""Where the settings come from, in order of precedence: explicit overrides (command-line
flags) > environment > TOML file > defaults.

A bad value raises `SettingsError`, whose text is one line naming the setting the way the user
wrote it (env var, flag or ``file:key``) and what is allowed; the CLI prints it and exits 2.
"""

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import annotated_types
from pydantic import SecretStr, ValidationError

from capgo_exporter.settings.errors import SettingsError
from capgo_exporter.settings.model import Settings
from capgo_exporter.settings.sources import Layer, env_layer, flag_layer, toml_layer
from capgo_exporter.settings.table import ENV_NAMES, SETTINGS


def warn_on_stderr(message: str) -> None:
    """Where a deprecation goes by default: one line on stderr, as the CLI writes its errors."""
    print(f"capgo-exporter: warning: {message}", file=sys.stderr)


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    warn: Callable[[str], None] = warn_on_stderr,
) -> Settings:
    """Validate the settings from flags (``overrides``, by field name), env and the TOML file.

    An override of None means "not given", so argparse defaults can be passed as they are.
    ``warn`` receives one line per deprecated name in use. Raises `SettingsError`.
    """
    env = os.environ if environ is None else environ
    flags = flag_layer(overrides or {})
    environment = env_layer(env, warn)
    config = flags.get("config_file") or environment.get("config_file")
    toml = toml_layer(Path(str(config[0])), config[1]) if config else {}
    layers = (flags, environment, toml)  # highest precedence first

    merged: Layer = {}
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


def _resolve_api_key(
    layers: tuple[Layer, ...], env: Mapping[str, str], home: Path | None
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
    token_name = SETTINGS["api_key"].fallback_env
    if token_name and (token := env.get(token_name, "").strip()):
        return _checked_key(token, token_name), token_name, None
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
    if len(error["loc"]) > 1:  # within a table: org_plans, "Acme Mobile", mau_limit
        inside = ".".join(map(str, error["loc"][1:]))
        if error["type"] == "extra_forbidden":
            return SettingsError(f"{where}: {inside}: unknown key")
        return SettingsError(
            f"{where}: {inside}: invalid value {error['input']!r} — {error['msg'].lower()}"
        )
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
