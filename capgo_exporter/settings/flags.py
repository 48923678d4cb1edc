"""The settings as command-line flags, built from their declarations: for the ``capgo-exporter``
parser and its sub-commands, and for ``python -m capgo_exporter.settings``."""

import argparse
from collections.abc import Sequence

from capgo_exporter.settings.render import flag_help
from capgo_exporter.settings.table import FLAG_NAMES, SETTINGS


def add_setting_flags(
    parser: argparse.ArgumentParser, fields: Sequence[str] = tuple(SETTINGS)
) -> None:
    """One flag per setting in ``fields``, in a group of its own. A flag not given leaves no
    attribute (SUPPRESS), so given before a sub-command or after it, either works."""
    group = parser.add_argument_group("settings (each also read from its environment variable)")
    for field in fields:
        group.add_argument(
            FLAG_NAMES[field],
            dest=field,
            metavar="VALUE",
            default=argparse.SUPPRESS,
            help=flag_help(field).replace("%", "%%"),
        )


def flag_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The settings given as flags, by field name: `load_settings`' overrides."""
    return {field: getattr(args, field) for field in FLAG_NAMES if hasattr(args, field)}
