"""``--once --output FILE``: the exposition written as node_exporter's textfile collector wants
it. The collector reads every ``*.prom`` file of its directory at each scrape, so a file must
never be seen half-written: the text goes to a temporary file in the same directory (same
file system, so the rename is atomic), whose name does not end in ``.prom``, is flushed to
disk, given the usual mode (0644: node_exporter often runs as another user), then renamed over
FILE. A failure leaves the previous file as it was and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

MODE = 0o644


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step; raises OSError (nothing changed then)."""
    directory = path.resolve().parent
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, MODE)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
