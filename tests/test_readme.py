"""The README's first two commands: what a new user types first, and what CI runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CI = ROOT / ".ci" / "run"


def _sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def _command(block: str) -> str:
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1, f"a set-up block holds one command line: {block!r}"
    return lines[0]


def test_the_readme_starts_with_the_run_and_test_commands() -> None:
    # Nothing but the title and the introduction comes before them.
    before = README[: README.index("```sh")]
    assert "```" not in before
    run, test = (_command(block) for block in _sh_blocks(README)[:2])
    assert run.endswith("capgo-exporter --demo")
    # The suite on every core, then the tests that time something, alone: between them, all.
    parallel, serial = test.split(" && ")[-2:]
    assert parallel.endswith("python -m pytest -n auto --dist loadscope -m 'not serial'")
    assert serial.endswith("python -m pytest -m serial")
    for command in (run, test):
        # Debian/Ubuntu's system Python refuses `pip install` (externally-managed-environment):
        # both commands install into a virtual environment they create themselves.
        assert "python3 -m venv .venv" in command
        assert "python3-venv" in command  # Debian's python3 has no ensurepip without it
        assert " pip install" not in command.replace(".venv/bin/pip install", "")
    assert "prometheus-node-exporter" in test  # the textfile test needs the real one
    for command in (run, test):
        # As a user with sudo, and as root in a container without it: never a bare sudo.
        assert not re.search(r"(^|&& )sudo ", command), command
        assert command.startswith("$(command -v sudo) apt-get update && ")


def test_the_set_up_commands_run_as_root_without_sudo(tmp_path: Path) -> None:
    # The prefix as bash expands it where there is no sudo: nothing, so apt-get runs alone.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text('#!/bin/sh\necho apt-get "$@"\n')
    (fake / "apt-get").chmod(0o755)
    run = _command(_sh_blocks(README)[0])
    first = run.split(" && ")[0]
    bash = shutil.which("bash")
    assert bash
    result = subprocess.run(
        [bash, "-c", first], env={"PATH": str(fake)}, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (0, "apt-get update\n"), result.stderr


def _ci_readme_command(number: int) -> str:
    script = f'source <(sed -n "/^readme_command()/,/^}}/p" {CI}); readme_command {number}'
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_ci_runs_exactly_the_readme_commands() -> None:
    run, test = (_command(block) for block in _sh_blocks(README)[:2])
    assert _ci_readme_command(1) == run
    assert _ci_readme_command(2) == test
    script = CI.read_text()
    assert 'bash -c "$run_command"' in script
    assert 'bash -c "$test_command"' in script
    assert "rm -rf .venv" in script  # a fresh environment, nothing preinstalled
    assert "sudo()" not in script  # no shim: the README's commands run as root as written
