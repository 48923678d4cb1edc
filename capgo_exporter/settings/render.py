"""The effective settings written back as TOML a user can start a config file from."""

import json

from capgo_exporter.settings.model import Settings
from capgo_exporter.settings.units import format_duration


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
