"""Settings written for people: the effective settings as TOML, and each setting's default
and one-paragraph help as ``--help`` and the docs show them."""

import json
from typing import Any

from capgo_exporter.settings.model import Settings
from capgo_exporter.settings.table import SETTINGS
from capgo_exporter.settings.units import format_duration


def render_settings(settings: Settings) -> str:
    """The effective settings as TOML a user can start a config file from; the key masked."""
    lines: list[str] = []
    tables: list[str] = []
    for field, setting in SETTINGS.items():
        value = getattr(settings, field)
        if field == "api_key":
            source = settings.api_key_source
            line = f"# api_key = ******** (from {source})" if source else "# api_key = (not set)"
        elif value is None:
            line = f"# {field} = (not set)"
        elif not setting.in_toml:  # a key a config file may not hold
            line = f"# {field} = {json.dumps(str(value))}"
        elif isinstance(value, float):  # every float setting is a duration
            line = f'{field} = "{format_duration(value)}"'
        elif isinstance(value, int):
            line = f"{field} = {value}"
        elif isinstance(value, tuple):
            line = f"{field} = {json.dumps(list(value))}"
        elif isinstance(value, dict):  # tables of models (org_plans): after every plain key
            tables.extend(_tables(field, value))
            continue
        else:
            line = f"{field} = {json.dumps(str(value))}"
        lines.append(line)
    return "\n".join([*lines, *tables])


def _tables(field: str, value: dict[str, Any]) -> list[str]:
    """``[field."key"]`` and its values, each table as TOML writes it; nothing when empty."""
    if not value:
        return [f"# {field} = (none)"]
    lines = []
    for key, model in value.items():
        lines.append(f"\n[{field}.{json.dumps(key)}]")
        for name, item in model.model_dump(exclude_none=True).items():
            lines.append(f"{name} = {json.dumps(item)}")
    return lines


def default_text(field: str) -> str:
    """The default as a person writes it, in Markdown: ``15m``, not ``900.0``; ``—`` for none."""
    value = Settings.model_fields[field].get_default(call_default_factory=True)
    if value is None:
        return "—"
    if isinstance(value, float):  # every float setting is a duration
        return f"`{format_duration(value)}`"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`" if value else "—"
    if isinstance(value, dict):
        return "—"
    return f"`{value}`"


def flag_help(field: str) -> str:
    """A setting's ``--help`` text: what it does, its environment variable, its default."""
    setting = SETTINGS[field]
    default = default_text(field).replace("`", "")
    shown = f" Default: {default}." if default != "—" else ""
    return f"{setting.help.replace('`', '')} Env {setting.env_name}.{shown}"
