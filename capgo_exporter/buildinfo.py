"""What build this is: the version, the source revision and the Python running it, for
``capgo_exporter_build_info`` and ``--version``.

The revision is, in this order: the file ``_revision.txt`` beside this module (the container
image writes it from its ``REVISION`` build argument: its build context holds no ``.git``),
the commit checked out where the package is imported from (a clone, an editable install, a
git worktree; read from ``.git`` without running git), or ``unknown``.
"""

from __future__ import annotations

import functools
import platform
import re
from pathlib import Path

from capgo_exporter import __version__

_PACKAGE = Path(__file__).resolve().parent
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
UNKNOWN = "unknown"


def python_version() -> str:
    return platform.python_version()


@functools.cache
def revision() -> str:
    written = _PACKAGE / "_revision.txt"
    if written.is_file():
        text = written.read_text(encoding="utf-8").strip()
        if _COMMIT.fullmatch(text):
            return text
    return git_revision(_PACKAGE.parent) or UNKNOWN


def git_revision(root: Path) -> str | None:
    """The commit HEAD points at in the checkout at ``root``, or None."""
    try:
        gitdir = _gitdir(root)
        if gitdir is None:
            return None
        head = (gitdir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head if _COMMIT.fullmatch(head) else None
        return _resolve(gitdir, head.removeprefix("ref:").strip())
    except (OSError, UnicodeDecodeError):
        return None


def _gitdir(root: Path) -> Path | None:
    dot = root / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dot.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            return (root / text.removeprefix("gitdir:").strip()).resolve()
    return None


def _resolve(gitdir: Path, ref: str) -> str | None:
    common = gitdir
    if (gitdir / "commondir").is_file():  # a worktree keeps its branches in the main .git
        common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for base in (gitdir, common):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8").strip()
            return value if _COMMIT.fullmatch(value) else None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            value, _, name = line.partition(" ")
            if name == ref and _COMMIT.fullmatch(value):
                return value
    return None


def version_text() -> str:
    """What ``capgo-exporter --version`` prints, in the Prometheus exporters' form."""
    return (
        f"capgo-exporter, version {__version__} (revision: {revision()})\n"
        f"  python version: {python_version()}"
    )
