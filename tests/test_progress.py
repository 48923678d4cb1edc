"""The device walk's progress line on a terminal: drawn in place, throttled, ended cleanly, and
absent when stderr is not a terminal (piped output stays clean)."""

from __future__ import annotations

import io

from capgo_exporter.progress import TerminalProgress


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_walk_is_drawn_in_place_throttled_and_ended() -> None:
    stream, clock = io.StringIO(), Ticks()
    progress = TerminalProgress(stream, clock=clock, force=True)
    progress.device_walk_progress("com.acme.shop", pages=1, devices=50_000, walking=True)
    clock.now = 0.05  # too soon: not redrawn
    progress.device_walk_progress("com.acme.shop", pages=2, devices=100_000, walking=True)
    clock.now = 0.5
    progress.device_walk_progress("com.acme.shop", pages=3, devices=150_000, walking=True)
    progress.device_walk_progress("com.acme.shop", pages=3, devices=150_000, walking=False)
    lines = stream.getvalue().split("\r\x1b[2K")
    assert lines[1:] == [
        "devices of com.acme.shop: 50,000 so far (1 pages)",
        "devices of com.acme.shop: 150,000 so far (3 pages)",
        "devices of com.acme.shop: 150,000 in 3 pages, done\n",
    ]


def test_nothing_is_drawn_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()  # isatty() is False
    progress = TerminalProgress(stream)
    progress.device_walk_progress("com.acme.shop", pages=1, devices=10, walking=True)
    progress.device_walk_progress("com.acme.shop", pages=1, devices=10, walking=False)
    progress.finish()
    assert stream.getvalue() == ""
