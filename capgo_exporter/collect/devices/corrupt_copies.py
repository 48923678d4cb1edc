"""Unreadable state files set aside for inspection: timestamped names, the last few kept.

A second corruption must not erase the evidence of the first, and a crash loop must not fill
the disk, so every copy gets its own UTC-timestamped name and only ``KEEP_CORRUPT`` survive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final

KEEP_CORRUPT: Final = 5


def set_aside_name(path: Path, when: datetime) -> Path:
    """``<name>.<UTC time>.corrupt`` beside ``path``; ``-N`` added rather than overwrite."""
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.{stamp}.corrupt")
    counter = 1
    while aside.exists():  # twice in one second
        aside = path.with_name(f"{path.name}.{stamp}-{counter}.corrupt")
        counter += 1
    return aside


def _age_order(copy: Path, prefix: str) -> tuple[str, int]:
    stamp, _, counter = copy.name.removeprefix(prefix).removesuffix(".corrupt").partition("-")
    return stamp, int(counter) if counter.isdigit() else 0


def prune_corrupt_copies(path: Path, keep: int = KEEP_CORRUPT) -> list[Path]:
    """Delete all but the ``keep`` newest copies of ``path``; returns what is left, oldest first."""
    prefix = f"{path.name}."
    copies = sorted(path.parent.glob(f"{path.name}.*.corrupt"), key=lambda c: _age_order(c, prefix))
    for old in copies[:-keep]:
        old.unlink(missing_ok=True)
    return copies[-keep:]
