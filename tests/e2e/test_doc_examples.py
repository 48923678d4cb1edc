"""Every command example in the README and docs/ runs as written against --demo.

Each ``sh`` block runs in bash, in a scratch directory, with ``capgo-exporter`` on PATH as a
wrapper that adds ``--demo`` (the simulated account, whose app ``com.acme.shop`` the examples
use) and drops the key settings the examples export, since --demo brings its own key. The
daemon itself runs one round (``--once``) instead of forever. Install steps (pip, apt) are
left to CI, which runs the README's set-up commands for real (``.ci/run``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools import require_binary

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Installing is what .ci/run tests; these lines would reach for the network.
_INSTALL = re.compile(r"^(sudo |pip |python3 -m venv|apt-get )")

WRAPPER = """#!/bin/bash
real={real}
unset CAPGO_API_KEY CAPGO_API_KEY_FILE CAPGO_TOKEN
case "$1" in
    admin) shift; exec "$real" admin --demo "$@" ;;
    check) shift; exec "$real" check --demo "$@" ;;
    *) exec "$real" --demo --once "$@" >/dev/null ;;
esac
"""


def _script(block: str) -> str:
    lines = []
    transcript = any(line.startswith("$ ") for line in block.splitlines())
    for line in block.splitlines():
        if transcript:  # `$ command` then its output: run the commands only
            if line.startswith("$ "):
                lines.append(line[2:])
        elif not _INSTALL.match(line):
            lines.append(line)
    return "\n".join(lines)


def _examples() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        blocks = _BLOCK.findall(document.read_text())
        if document.name == "README.md":
            blocks = blocks[2:]  # the set-up commands: .ci/run runs those
        for number, block in enumerate(blocks):
            script = _script(block)
            if "capgo-exporter" in script:
                found.append((f"{document.name}#{number}", script))
    return found


EXAMPLES = _examples()


def test_the_docs_have_examples_to_run() -> None:
    names = {name.split("#")[0] for name, _ in EXAMPLES}
    assert {"README.md", "admin.md", "keys.md"} <= names


@pytest.mark.parametrize(("name", "script"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_runs_as_written_on_demo(name: str, script: str, tmp_path: Path) -> None:
    require_binary("jq", "apt-get install -y jq")
    real = shutil.which("capgo-exporter", path=str(Path(sys.executable).parent))
    assert real, "capgo-exporter is not installed in this environment (pip install -e .)"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "capgo-exporter"
    wrapper.write_text(WRAPPER.format(real=real))
    wrapper.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAPGO_")},
        "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "CAPGO_EXPORTER_LOG_LEVEL": "warn",
    }
    # -e, as a careful reader's shell; no pipefail, as `list | head -n 1` ends its writer with
    # SIGPIPE by design. A failure inside a pipe still shows: every error is a
    # "capgo-exporter: …" line on stderr. Background jobs (the TCP simulator) stop at the end.
    program = f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}\n"
    result = subprocess.run(
        ["bash", "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{name}:\n{script}\n--- stderr:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    assert "capgo-exporter:" not in result.stderr, result.stderr[-3000:]


def test_the_check_output_in_keys_md_is_what_check_prints() -> None:
    text = (ROOT / "docs" / "keys.md").read_text()
    shown = text.split("```text\n", 1)[1].split("```", 1)[0]
    real = Path(sys.executable).parent / "capgo-exporter"
    result = subprocess.run(
        [str(real), "check", "--demo"], capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("CAPGO_")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown
