"""Every command example in the README and docs/ runs as written against --demo.

Each ``sh`` block runs in bash, in a scratch directory, with ``capgo-exporter`` on PATH as a
wrapper that adds ``--demo`` (the simulated account, whose app ``com.acme.shop`` the examples
use) and drops the key settings the examples export, since --demo brings its own key. The
daemon itself runs one round (``--once``) instead of forever. Install steps (pip, apt) are
left to CI, which runs the README's set-up commands for real (``.ci/run``). A port an example
names (after ``--port``, in ``http://127.0.0.1:PORT``) is a free one when it runs: a fixed port
would fail whenever something holds it, such as a simulator left running or another
pytest-xdist worker (tests/test_no_fixed_ports.py checks that none is left).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clock import clock_env, pinned_clock
from tests.tools import require_binary

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Installing is what .ci/run tests; these lines would reach for the network.
_INSTALL = re.compile(r"^(sudo |pip |python3 -m venv|apt-get )")
# Where an example names a port: a --port flag, a loopback or wildcard host, a listen address.
_PORT = re.compile(
    r"(?P<before>--port[= ]|\b(?:localhost|127\.0\.0\.1|0\.0\.0\.0):|\[::1?\]:"
    r"|(?i:listen[-_.]address)[= ]\S*:)(?P<port>[1-9][0-9]*)\b"
)
_FREE_PORT = re.compile(r"@FREE_PORT_([0-9]+)@")

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
    return _free_port_placeholders("\n".join(lines))


def _free_port_placeholders(script: str) -> str:
    """Each port the script names becomes ``@FREE_PORT_n@``, one n per distinct port, so
    that the simulator an example starts and the URL pointing at it still agree."""
    numbers: dict[str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        number = numbers.setdefault(match["port"], len(numbers) + 1)
        return f"{match['before']}@FREE_PORT_{number}@"

    return _PORT.sub(placeholder, script)


def _with_free_ports(script: str) -> str:
    """The script as it runs: each placeholder a distinct free port, picked now."""
    ports: dict[str, str] = {}

    def port(match: re.Match[str]) -> str:
        if match[1] not in ports:
            while (picked := str(free_port())) in ports.values():
                pass
            ports[match[1]] = picked
        return ports[match[1]]

    return _FREE_PORT.sub(port, script)


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
        **clock_env(pinned_clock()),  # --demo's simulator on the pinned day
    }
    # -e, as a careful reader's shell; no pipefail, as `list | head -n 1` ends its writer with
    # SIGPIPE by design. A failure inside a pipe still shows: every error is a
    # "capgo-exporter: …" line on stderr. Background jobs (the TCP simulator) stop at the end.
    script = _with_free_ports(script)
    program = f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}\n"
    result = subprocess.run(
        ["bash", "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{name}:\n{script}\n--- stderr:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    assert "capgo-exporter:" not in result.stderr, result.stderr[-3000:]


def test_a_port_an_example_names_is_one_free_port_throughout_the_example() -> None:
    sim, prometheus, exporter = 8787, 9090, 10180  # as a document would name them
    script = _free_port_placeholders(
        f"python -m capgo_exporter.sim --port {sim} --key k &\n"
        f"export CAPGO_API_URL=http://127.0.0.1:{sim}\n"
        f"curl -s localhost:{prometheus}/api/v1/query\n"
        f"capgo-exporter --web.listen-address=:{exporter} --capgo.timeout 1m30s"
    )
    assert script == (
        "python -m capgo_exporter.sim --port @FREE_PORT_1@ --key k &\n"
        "export CAPGO_API_URL=http://127.0.0.1:@FREE_PORT_1@\n"
        "curl -s localhost:@FREE_PORT_2@/api/v1/query\n"
        "capgo-exporter --web.listen-address=:@FREE_PORT_3@ --capgo.timeout 1m30s"
    )
    ports = [int(port) for port in re.findall(r"(?:--port |:)([0-9]+)\b", _with_free_ports(script))]
    assert len(ports) == 4
    assert ports[0] == ports[1]
    assert len(set(ports)) == 3
    assert not {sim, prometheus, exporter} & set(ports)


def test_the_check_output_in_keys_md_is_what_check_prints() -> None:
    text = (ROOT / "docs" / "keys.md").read_text()
    shown = text.split("```text\n", 1)[1].split("```", 1)[0]
    real = Path(sys.executable).parent / "capgo-exporter"
    result = subprocess.run(
        [str(real), "check", "--demo"], capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("CAPGO_")}
        | clock_env(pinned_clock()),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown
