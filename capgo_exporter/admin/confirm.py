"""Confirmation before destructive requests.

On a terminal the user is asked; anywhere else (CI, cron, a pipe) there is nobody to ask, so
the command refuses unless ``--yes`` says the caller meant it.
"""

from __future__ import annotations

from typing import TextIO


class RefusedError(Exception):
    """No confirmation possible (not a terminal) and no ``--yes``: a usage error, exit 2."""


class DeclinedError(Exception):
    """The user answered no at the prompt: nothing was sent, exit 1."""


def confirm(action: str, *, assume_yes: bool, stdin: TextIO, prompt: TextIO) -> None:
    """Return when ``action`` (e.g. "delete channel beta of com.acme.app") may go ahead."""
    if assume_yes:
        return
    if not stdin.isatty():
        raise RefusedError(f"refusing to {action} without confirmation: add --yes")
    prompt.write(f"{action[:1].upper()}{action[1:]}? [y/N] ")
    prompt.flush()
    if stdin.readline().strip().lower() not in ("y", "yes"):
        raise DeclinedError("not confirmed; nothing was sent")
