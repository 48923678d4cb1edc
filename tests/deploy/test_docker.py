"""deploy/docker/Dockerfile and .dockerignore, checked statically (no Docker daemon needed),
and the image's HEALTHCHECK command run against a real exporter."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clock import clock_env, pinned_clock
from tests.deploy.support import (
    DOCKERFILE,
    PORT,
    REPO,
    Dockerfile,
    check_exporter_env,
    free_port,
    key_value_pairs,
    parse_dockerfile,
)

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL", re.IGNORECASE)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE)


def final_env(dockerfile: Dockerfile) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in dockerfile.final.all("ENV"):
        env |= key_value_pairs(instruction.args)
    return env


def healthcheck_argv(dockerfile: Dockerfile) -> list[str]:
    (healthcheck,) = dockerfile.final.all("HEALTHCHECK")
    options, cmd, command = healthcheck.args.partition("CMD ")
    assert cmd, "HEALTHCHECK must run a command (HEALTHCHECK NONE disables it)"
    assert re.search(r"--interval=\S+", options)
    assert re.search(r"--timeout=\S+", options)
    argv = json.loads(command)  # exec form: no shell needed in the image
    assert isinstance(argv, list)
    assert all(isinstance(word, str) for word in argv)
    return argv


def test_is_multi_stage_with_builder_and_runtime_on_the_same_python(
    dockerfile: Dockerfile,
) -> None:
    assert len(dockerfile.stages) >= 2
    assert all(stage.name for stage in dockerfile.stages), "every FROM needs `AS name`"
    builder, runtime = dockerfile.stages[0], dockerfile.final
    # Wheels resolved in the builder (pydantic-core, bcrypt: compiled) only fit the same ABI.
    assert dockerfile.image(builder) == dockerfile.image(runtime)
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", dockerfile.image(runtime))

    assert any("pip wheel" in run.args for run in builder.all("RUN"))
    installs = [run.args for run in runtime.all("RUN") if "pip install" in run.args]
    assert len(installs) == 1
    assert f"from={builder.name}" in installs[0]
    assert "--no-index" in installs[0]
    # The runtime gets no source tree, only what was built from it.
    assert not [c.args for c in runtime.all("COPY") if "--from=" not in c.args]
    assert not runtime.all("ADD")


def test_final_stage_runs_as_a_fixed_numeric_non_root_user(dockerfile: Dockerfile) -> None:
    users = dockerfile.final.all("USER")
    assert users, "the final stage must switch away from root"
    user = users[-1].args
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    match = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    assert match, f"USER {user!r} is not numeric"
    assert int(match.group(1)) != 0
    assert int(match.group(2) or 1) != 0
    created = " ".join(run.args for run in dockerfile.final.all("RUN"))
    assert f"--uid {match.group(1)}" in created, "the user must exist in the image"
    # Nothing runs as root after USER.
    last_user = max(i.line for i in users)
    assert not [r.args for r in dockerfile.final.all("RUN") if r.line > last_user]


def test_no_secret_is_baked_into_the_image(dockerfile: Dockerfile) -> None:
    for stage in dockerfile.stages:
        for instruction in stage.all("ENV") + stage.all("ARG"):
            names = key_value_pairs(instruction.args)
            secret = [name for name in names if SECRET_NAME.search(name)]
            assert not secret, f"line {instruction.line}: {instruction.keyword} {secret}"
        for copy in stage.all("COPY") + stage.all("ADD"):
            assert not re.search(r"\.env\b|\.capgo\b|api-key", copy.args), copy.args
    for name in dockerfile.global_args:
        assert not SECRET_NAME.search(name), name


def test_listens_on_the_exposed_port_and_keeps_state_in_a_volume(dockerfile: Dockerfile) -> None:
    env = final_env(dockerfile)
    (expose,) = dockerfile.final.all("EXPOSE")
    assert expose.args.split() == [str(PORT)]
    # Every interface: inside a container, the host decides what is published.
    assert env["CAPGO_EXPORTER_WEB_LISTEN_ADDRESS"] == f":{PORT}"
    state_dir = env["CAPGO_EXPORTER_STATE_DIR"]
    assert state_dir == "/var/lib/capgo-exporter"
    volumes = [json.loads(v.args) for v in dockerfile.final.all("VOLUME")]
    assert [state_dir] in volumes
    created = " ".join(run.args for run in dockerfile.final.all("RUN"))
    assert re.search(rf"install -d -o (\d+) -g \d+ -m 07\d0 {re.escape(state_dir)}", created)
    (stop,) = dockerfile.final.all("STOPSIGNAL")
    assert stop.args == "SIGTERM"
    (entrypoint,) = dockerfile.final.all("ENTRYPOINT")
    assert json.loads(entrypoint.args) == ["capgo-exporter"]


def test_environment_is_accepted_by_the_exporter(dockerfile: Dockerfile, tmp_path: Path) -> None:
    settings = check_exporter_env(final_env(dockerfile), tmp_path)
    assert settings.listen_port == PORT
    assert settings.listen_host == ""


def test_has_oci_labels(dockerfile: Dockerfile) -> None:
    labels: dict[str, str] = {}
    for label in dockerfile.final.all("LABEL"):
        labels |= key_value_pairs(label.args)
    for name in ("title", "description", "version", "revision", "created", "licenses"):
        assert labels.get(f"org.opencontainers.image.{name}"), name
    assert labels["org.opencontainers.image.title"] == "capgo-exporter"


def test_healthcheck_needs_nothing_but_python(dockerfile: Dockerfile) -> None:
    argv = healthcheck_argv(dockerfile)
    assert argv[0] == "python"
    assert "/healthz" in argv[-1], "liveness must not depend on Capgo: /healthz, not /readyz"
    assert not re.search(r"\b(curl|wget)\b", " ".join(argv))


@dataclass
class Exporter:
    proc: subprocess.Popen[bytes]
    port: int
    state_dir: Path
    log: Path


@pytest.fixture
def exporter(dockerfile: Dockerfile, tmp_path: Path) -> Iterator[Exporter]:
    """The exporter as the image runs it (its ENV, demo mode), on a free loopback port."""
    port = free_port()
    env = os.environ | final_env(dockerfile)
    env |= {
        "CAPGO_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "CAPGO_EXPORTER_STATE_DIR": str(tmp_path / "state"),
        **clock_env(pinned_clock()),
    }
    log = tmp_path / "exporter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "capgo_exporter", "--demo"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            yield Exporter(proc, port, tmp_path / "state", log)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def run_healthcheck(argv: list[str], port: int) -> subprocess.CompletedProcess[str]:
    # The container's form of the address, ":port"; the check reads only the port from it.
    env = os.environ | {"CAPGO_EXPORTER_WEB_LISTEN_ADDRESS": f":{port}"}
    return subprocess.run(
        [sys.executable, *argv[1:]], env=env, capture_output=True, text=True, timeout=30
    )


def wait_healthy(argv: list[str], exporter: Exporter) -> None:
    deadline = time.monotonic() + 30
    while (result := run_healthcheck(argv, exporter.port)).returncode != 0:
        assert exporter.proc.poll() is None, exporter.log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, f"never healthy: {result.stderr[-500:]}"
        time.sleep(0.3)


def test_healthcheck_passes_on_a_live_exporter_and_fails_once_it_stops(
    dockerfile: Dockerfile, exporter: Exporter
) -> None:
    argv = healthcheck_argv(dockerfile)
    wait_healthy(argv, exporter)

    # The device index lands in the state directory, i.e. in the image's VOLUME.
    deadline = time.monotonic() + 30
    while not (exporter.state_dir.is_dir() and any(exporter.state_dir.iterdir())):
        assert time.monotonic() < deadline, "nothing written to CAPGO_EXPORTER_STATE_DIR"
        time.sleep(0.3)

    # STOPSIGNAL SIGTERM ends the exporter cleanly (exit 0), well within the 30s that
    # compose's stop_grace_period and Kubernetes' terminationGracePeriodSeconds give it.
    (stop,) = dockerfile.final.all("STOPSIGNAL")
    exporter.proc.send_signal(getattr(signal, stop.args))
    assert exporter.proc.wait(timeout=30) == 0, exporter.log.read_text(errors="replace")[-2000:]

    result = run_healthcheck(argv, exporter.port)
    assert result.returncode != 0, "the check must fail when nothing answers"


def test_dockerignore_keeps_secrets_and_clutter_out_of_the_build_context(
    dockerfile: Dockerfile,
) -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    def regex(pattern: str) -> re.Pattern[str]:
        # Docker's matching (moby/patternmatcher): Go filepath.Match plus "**".
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**", i):
                out += ".*"
                i += 2
                if pattern.startswith("/", i):
                    out = out[:-2] + "(.*/)?"
                    i += 1
                continue
            char = pattern[i]
            out += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
            i += 1
        return re.compile(out)

    rules = [
        (p.startswith("!"), regex(p.lstrip("!").strip("/").removeprefix("./"))) for p in patterns
    ]

    def sent(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        included = True
        for negated, pattern in rules:
            if any(pattern.fullmatch(prefix) for prefix in prefixes):
                included = negated
        return included

    copied = [
        word
        for copy in dockerfile.stages[0].all("COPY")
        for word in copy.args.split()[:-1]
        if not word.startswith("--")
    ]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert sent(source), f"COPY {source} but .dockerignore leaves it out"
    assert sent("capgo_exporter/cli.py")
    assert sent("capgo_exporter/sim/__init__.py")

    for path in (
        ".env",
        "deploy/compose/.env",
        ".git/config",
        "deploy/kubernetes/secret.yaml",
        "capgo-api-key",
        ".venv/bin/python",
        "capgo_exporter/__pycache__/cli.cpython-311.pyc",
        "tests/test_settings.py",
    ):
        assert not sent(path), f"{path} would be sent to the Docker daemon"
