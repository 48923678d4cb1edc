"""``-n auto`` starts one pytest-xdist worker more than pytest-xdist would (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import WORKERS_ENV, pytest_xdist_auto_num_workers, xdist_cores

ROOT = Path(__file__).resolve().parents[1]


def test_auto_is_one_more_than_the_usable_cores(
    monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config
) -> None:
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert xdist_cores(pytestconfig) == 2
    assert pytest_xdist_auto_num_workers(pytestconfig) == 3


def test_xdist_own_variable_still_decides(
    monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config
) -> None:
    monkeypatch.setenv(WORKERS_ENV, "5")
    assert pytest_xdist_auto_num_workers(pytestconfig) is None


def test_pytest_starts_that_many_workers(pytestconfig: pytest.Config) -> None:
    """The hook is found where the README's command runs: pytest reports the workers."""
    env = {k: v for k, v in os.environ.items() if k != WORKERS_ENV}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "auto", "-p", "no:cacheprovider",
         "tests/test_buildinfo.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    workers = xdist_cores(pytestconfig) + 1
    assert f"created: {workers}/{workers} workers" in result.stdout


def test_pytest_without_xdist_still_runs() -> None:
    """The hook is optional: ``-p no:xdist`` (or no pytest-xdist at all) runs the suite."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
         "tests/test_buildinfo.py", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
