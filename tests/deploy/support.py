"""Helpers for the deployment-file tests: paths, optional tools, env checks, file parsers.

Tools these tests use beyond pytest: ``promtool`` and ``amtool`` (Debian's ``prometheus`` and
``prometheus-alertmanager``), ``systemd-analyze`` (Debian's ``systemd``), and the PyPI packages
``kubernetes-validate`` and ``check-jsonschema`` (the dev extra). A missing one fails the test
in CI (``CI=true``), where it must be installed, and skips it loudly on a developer machine.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from capgo_exporter.settings import ENV_NAMES, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
COMPOSE_DIR = DEPLOY / "compose"
KUBERNETES_DIR = DEPLOY / "kubernetes"
SYSTEMD_DIR = DEPLOY / "systemd"

# The port everything agrees on (README, settings default, Dockerfile, compose, Kubernetes).
PORT = 10180
# The job name the rules and dashboards select on.
JOB = "capgo"

# Settings the exporter reads from the environment, plus the Capgo CLI's variable.
EXPORTER_ENV_NAMES = frozenset(ENV_NAMES.values()) | {"CAPGO_TOKEN"}
KEY_ENV_NAMES = frozenset({"CAPGO_API_KEY", "CAPGO_TOKEN"})
# What a committed file may hold where a key would go.
KEY_PLACEHOLDER = "replace-with-your-capgo-api-key"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def port_of(listen_address: str) -> int:
    return int(listen_address.rpartition(":")[2])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_exporter_env(
    env: Mapping[str, str],
    tmp_path: Path,
    *,
    others: Iterable[str] = (),
    paths: Mapping[str, str] | None = None,
) -> Settings:
    """Assert that a deployment's environment is one the exporter understands, and load it.

    Every ``CAPGO_*`` name must be a setting's current name (a former one logs a deprecation
    warning; a typo is refused, or ignored outside ``CAPGO_EXPORTER_*``), except the ``others``
    that the deployment tool itself reads. Values must pass the exporter's own
    validation. Paths that only exist on the target (``/var/lib/…``, a mounted Secret) are
    replaced by temporary ones: the state directory by an empty directory, the key file by a
    file holding the placeholder key; config files are only checked to be absolute paths.
    ``paths`` maps unit specifiers or prefixes to replace.
    """
    allowed = EXPORTER_ENV_NAMES | set(others)
    unknown = sorted(name for name in env if name.startswith("CAPGO") and name not in allowed)
    assert not unknown, f"not settings of the exporter (typo?): {unknown}"
    local = {name: value for name, value in env.items() if name in EXPORTER_ENV_NAMES}
    for old, new in (paths or {}).items():
        local = {name: value.replace(old, new) for name, value in local.items()}
    for name in ("CAPGO_EXPORTER_WEB_CONFIG_FILE", "CAPGO_EXPORTER_CONFIG_FILE"):
        # Files of the target machine: the exporter reads them relative to its working
        # directory, so only an absolute path is meaningful in a deployment file.
        if name in local:
            assert Path(local.pop(name)).is_absolute(), f"{name} must be an absolute path"
    if "CAPGO_EXPORTER_STATE_DIR" in local:
        local["CAPGO_EXPORTER_STATE_DIR"] = str(tmp_path / "state")
    if "CAPGO_API_KEY_FILE" in local:
        key_file = tmp_path / "api-key"
        key_file.write_text(KEY_PLACEHOLDER + "\n", encoding="utf-8")
        local["CAPGO_API_KEY_FILE"] = str(key_file)
    return load_settings({}, environ=local, home=tmp_path)


def parse_env_file(path: Path, *, commented: bool = False) -> dict[str, str]:
    """``VAR=value`` lines of an env file (compose's and systemd's common subset).

    With ``commented``, ``#VAR=value`` lines count too: examples document optional settings
    that way, and their names and values must be as valid as the active ones.
    """
    assignment = re.compile(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)")
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = assignment.fullmatch(line.strip())
        if match and (commented or not match.group(1)):
            env[match.group(2)] = match.group(3).strip()
    return env


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def image(self, stage: Stage) -> str:
        """The stage's base image, ``${ARG}`` expanded from the global ARG defaults."""
        return re.sub(
            r"\$\{?(\w+)\}?", lambda m: self.global_args.get(m.group(1), m.group(0)), stage.base
        )


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions by stage: comments dropped, continuation lines joined (enough for ours)."""
    logical: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # Docker drops comment lines inside a continued instruction too
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        logical.append((start, " ".join(part for part in pending if part)))
        pending = []
    assert not pending, f"{path}: the last instruction ends with a line continuation"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, text in logical:
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            assert keyword == "ARG", f"{path}:{number}: only ARG may come before FROM"
            arg, _, default = args.partition("=")
            global_args[arg.strip()] = default.strip()
        else:
            stages[-1].instructions.append(Instruction(keyword, args.strip(), number))
    return Dockerfile(global_args, stages)


def key_value_pairs(args: str) -> dict[str, str]:
    """``ENV``/``LABEL``/``ARG`` arguments in the ``KEY=value KEY2="value 2"`` form."""
    pairs: dict[str, str] = {}
    for match in re.finditer(r'([\w.\-]+)(?:=("(?:[^"\\]|\\.)*"|\S*))?', args):
        value = match.group(2) or ""
        pairs[match.group(1)] = value[1:-1] if value.startswith('"') else value
    return pairs


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as section → [(key, value)], keeping repeated keys in order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path}: {line!r} outside a section"
        assert not line.endswith("\\"), f"{path}: keep one setting per line: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not a key=value line: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections
