"""What build this is: capgo_exporter_build_info{version, revision, python_version}, the request
budget, and ``--version``."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from capgo_exporter import __version__
from capgo_exporter.buildinfo import git_revision, revision, version_text
from capgo_exporter.daemon import exporter
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.settings import load_settings

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def _repo(root: Path, head: str) -> Path:
    gitdir = root / ".git"
    (gitdir / "refs" / "heads").mkdir(parents=True)
    (gitdir / "HEAD").write_text(head + "\n")
    return gitdir


def test_a_branch_a_packed_branch_and_a_detached_head(tmp_path: Path) -> None:
    gitdir = _repo(tmp_path / "loose", "ref: refs/heads/main")
    (gitdir / "refs" / "heads" / "main").write_text(COMMIT + "\n")
    assert git_revision(tmp_path / "loose") == COMMIT

    gitdir = _repo(tmp_path / "packed", "ref: refs/heads/main")
    (gitdir / "packed-refs").write_text(
        f"# pack-refs\n{OTHER} refs/heads/other\n{COMMIT} refs/heads/main\n"
    )
    assert git_revision(tmp_path / "packed") == COMMIT

    _repo(tmp_path / "detached", COMMIT)
    assert git_revision(tmp_path / "detached") == COMMIT


def test_a_worktree_reads_its_branch_from_the_main_repository(tmp_path: Path) -> None:
    main = _repo(tmp_path / "main", "ref: refs/heads/main")
    (main / "refs" / "heads" / "feature").write_text(COMMIT + "\n")
    worktree_dir = main / "worktrees" / "wt"
    worktree_dir.mkdir(parents=True)
    (worktree_dir / "HEAD").write_text("ref: refs/heads/feature\n")
    (worktree_dir / "commondir").write_text("../..\n")
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text(f"gitdir: {worktree_dir}\n")
    assert git_revision(tmp_path / "wt") == COMMIT


def test_no_checkout_is_no_revision(tmp_path: Path) -> None:
    assert git_revision(tmp_path) is None
    _repo(tmp_path / "broken", "ref: refs/heads/gone")
    assert git_revision(tmp_path / "broken") is None


def test_build_info_carries_version_revision_and_python() -> None:
    metrics = SelfMetrics(["inventory"], process_metrics=False)
    labels = {
        "version": __version__,
        "revision": revision(),
        "python_version": platform.python_version(),
    }
    assert metrics.registry.get_sample_value("capgo_exporter_build_info", labels) == 1
    assert revision() != ""


async def test_the_budget_is_published_as_configured() -> None:
    settings = load_settings(
        {"api_key": "k", "api_url": "http://127.0.0.1:9", "requests_per_minute": "250"},
        environ={},
        home=None,
    )
    async with exporter(settings, process_metrics=False) as built:
        value = built.self_metrics.registry.get_sample_value(
            "capgo_exporter_api_budget_requests_per_minute"
        )
    assert value == 250


def test_version_prints_version_revision_and_python() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "capgo_exporter", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout == version_text() + "\n"
    first, second = result.stdout.splitlines()
    assert first == f"capgo-exporter, version {__version__} (revision: {revision()})"
    assert second == f"  python version: {platform.python_version()}"


@pytest.mark.parametrize("checkout", [Path(__file__).resolve().parents[1]])
def test_in_this_checkout_the_revision_is_its_head(checkout: Path) -> None:
    if not (checkout / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        pytest.skip("git cannot read this checkout")
    assert git_revision(checkout) == head.stdout.strip()
