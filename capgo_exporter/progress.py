"""A long device walk shown advancing on a terminal (``--once``, ``admin device list``).

One line on stderr rewritten in place, at most a few times a second, and only when stderr is
a terminal: piped or logged output stays clean (stdout carries the exposition or the listing).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

_MIN_INTERVAL = 0.2  # seconds between two redraws: a fast walk must not flood the terminal


class TerminalProgress:
    def __init__(
        self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic, force: bool = False
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._enabled = force or stream.isatty()
        self._last_draw: float | None = None
        self._drawn = False

    # WalkObserver
    def device_walk_progress(self, app_id: str, *, pages: int, devices: int, walking: bool) -> None:
        if not walking:
            self._draw(f"devices of {app_id}: {devices:,} in {pages} pages, done", force=True)
            self.finish()
            return
        self._draw(f"devices of {app_id}: {devices:,} so far ({pages} pages)")

    def device_page_size(self, size: int) -> None:
        """Shown in every line already through the counts; nothing to draw."""

    def device_walk_forgotten(self, app_id: str) -> None:
        """Nothing drawn for an app that is gone."""

    def _draw(self, line: str, *, force: bool = False) -> None:
        if not self._enabled:
            return
        now = self._clock()
        if not force and self._last_draw is not None and now - self._last_draw < _MIN_INTERVAL:
            return
        self._last_draw = now
        self._stream.write("\r\x1b[2K" + line)
        self._stream.flush()
        self._drawn = True

    def finish(self) -> None:
        """End the line, so what follows starts on its own."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
