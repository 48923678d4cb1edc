"""Every setting's declaration by field, read from the model's metadata, and the name tables
derived from it: what the flags, the environment, TOML files, the docs and ``--help`` use."""

from collections.abc import Mapping
from types import MappingProxyType

from capgo_exporter.settings.model import Settings
from capgo_exporter.settings.names import Setting


def _declarations() -> dict[str, Setting]:
    declared: dict[str, Setting] = {}
    for field, info in Settings.model_fields.items():
        found = [item for item in info.metadata if isinstance(item, Setting)]
        if found:
            declared[field] = found[-1]
    return declared


# Field → declaration, in the model's order (the order of the docs and of `render_settings`).
# Fields without one (api_key_source) are derived, not set.
SETTINGS: Mapping[str, Setting] = MappingProxyType(_declarations())
FLAG_NAMES: Mapping[str, str] = MappingProxyType({f: s.flag for f, s in SETTINGS.items()})
ENV_NAMES: Mapping[str, str] = MappingProxyType({f: s.env_name for f, s in SETTINGS.items()})
# A former environment variable → its field.
FORMER_ENV_NAMES: Mapping[str, str] = MappingProxyType(
    {old: field for field, setting in SETTINGS.items() for old in setting.former_env}
)
# What a TOML file may set: the field names, but not the config file's own.
TOML_KEYS = frozenset(field for field, setting in SETTINGS.items() if setting.in_toml)
