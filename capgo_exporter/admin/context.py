"""What every admin command receives: the client, the output, and the user's safety flags."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from capgo_exporter.admin.confirm import confirm
from capgo_exporter.admin.output import Output
from capgo_exporter.api import CapgoClient
from capgo_exporter.collect.base import utc_now, utc_today
from capgo_exporter.settings import Settings


class UsageError(Exception):
    """A user mistake found after parsing (a bad date, a missing extra): one line, exit 2."""


@dataclass
class Context:
    capgo: CapgoClient
    out: Output
    settings: Settings
    yes: bool
    dry_run: bool
    # What "today" is for default date ranges (the billing cycle so far); tests pin it.
    today: Callable[[], date] = utc_today
    # The instant for windows that end now (a rollout's auto-pause window); tests pin it.
    now: Callable[[], datetime] = utc_now

    def confirm(self, action: str) -> None:
        """Ask before a destructive request; a dry run sends nothing, so it needs no answer."""
        confirm(action, assume_yes=self.yes or self.dry_run, stdin=sys.stdin, prompt=sys.stderr)


Handler = Callable[[Context, argparse.Namespace], Awaitable[None]]


class CommandError(Exception):
    """A failure explained in our words (e.g. why Capgo refuses something): one line, exit 1."""
