"""``python -m capgo_exporter.settings``: the effective settings, the API key masked."""

from capgo_exporter.settings.errors import SettingsError, fail
from capgo_exporter.settings.load import load_settings
from capgo_exporter.settings.render import render_settings


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    print(render_settings(settings))


if __name__ == "__main__":
    main()
