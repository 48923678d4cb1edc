"""The state directory: one exporter at a time (a lock), and what a failed write there is.

One exporter per state directory: an exclusive lock on ``capgo-exporter.lock`` inside it.

Two exporters writing one device index take turns on SQLite's own lock: the second waits,
fails its writes and never serves devices, with nothing in its log to say why. So an exporter
takes an exclusive ``flock`` on the lock file before it opens anything there, and writes who
it is (process id, host, start time) into it; a second one finds the lock taken and stops at
start with one line naming the directory and the holder. The kernel releases the lock when
the process ends, however it ends: a crashed exporter leaves no lock behind.
"""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

LOCK_FILE: Final = "capgo-exporter.lock"


class StateDirInUseError(RuntimeError):
    """Another process holds the state directory; ``str()`` is one line naming both."""


class StateDirWriteError(OSError):
    """A file of the state directory could not be written (disk full, I/O error, read-only);
    an OSError, so a collector run that meets it fails like one that meets a network error."""


class StateDirLock:
    """The lock, held from `acquire` until `release` (or the process's end)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise StateDirInUseError naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 512).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateDirInUseError(
                f"state directory {self.path.parent} is in use by another capgo-exporter "
                f"({holder}); give each exporter its own --state.dir"
            ) from None
        started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {started}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None
