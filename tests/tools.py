"""External tools the tests use (promtool, prometheus, amtool, systemd-analyze, pip packages).

In CI (``CI=true``) a missing tool fails the test: CI installs every one, so missing means the
CI script is broken. On a developer's machine the test is skipped, loudly, naming what to
install.
"""

from __future__ import annotations

import importlib
import os
import shutil
import warnings
from types import ModuleType
from typing import NoReturn

import pytest

_PROVIDERS = {
    "prometheus": "apt-get install -y prometheus",
    "promtool": "apt-get install -y prometheus",
    "amtool": "apt-get install -y prometheus-alertmanager",
    "systemd-analyze": "apt-get install -y systemd",
    "prometheus-node-exporter": "apt-get install -y prometheus-node-exporter",
}


def _missing(what: str, install: str) -> NoReturn:
    message = f"{what} is not installed ({install} provides it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must install it")
    warnings.warn(f"SKIPPING: {message}", stacklevel=3)
    pytest.skip(f"*** {message} — this test did NOT run ***")


def require_binary(name: str, install: str | None = None) -> str:
    """The path of ``name``; fails in CI and skips loudly elsewhere when it is missing."""
    path = shutil.which(name)
    if path is None:
        _missing(name, install or _PROVIDERS.get(name, f"a package providing {name}"))
    return path


def require_module(name: str, install: str) -> ModuleType:
    """Import ``name``; fails in CI and skips loudly elsewhere when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python package {name}", install)
