"""The one error a bad setting raises, and how the command line reports it."""

import sys
from typing import NoReturn


class SettingsError(ValueError):
    """An invalid setting. ``str()`` is one line naming the setting and what is allowed."""

    def __init__(self, message: str) -> None:
        # The message quotes OS and TOML parser text; a stray newline would break the
        # one-line contract the CLI and log collectors rely on.
        super().__init__(" ".join(message.splitlines()))


def fail(message: str) -> NoReturn:
    """Print ``capgo-exporter: <message>`` to stderr and exit 2, the usage-error status."""
    print(f"capgo-exporter: {message}", file=sys.stderr)
    raise SystemExit(2)
