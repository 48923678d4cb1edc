"""``python -m capgo_exporter.settings [FLAGS]``: the effective settings, the API key masked,
from the flags, environment and config file the daemon would read (as ``capgo-exporter
config``)."""

import argparse
import sys
from collections.abc import Sequence

from capgo_exporter.settings.errors import SettingsError, fail
from capgo_exporter.settings.flags import add_setting_flags, flag_overrides
from capgo_exporter.settings.load import load_settings, warn_on_stderr
from capgo_exporter.settings.render import render_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m capgo_exporter.settings",
        description="Print the effective settings as TOML, the API key masked.",
    )
    add_setting_flags(parser)
    args = parser.parse_args(argv)
    deprecations: list[str] = []
    try:
        settings = load_settings(flag_overrides(args), warn=deprecations.append)
    except SettingsError as exc:
        fail(str(exc))  # one line: the error alone
    for deprecation in deprecations:
        warn_on_stderr(deprecation)
    print(render_settings(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
