"""deploy/compose/: the compose file against the compose specification, the files it mounts,
Prometheus' config with promtool (laid out as the container sees it), Alertmanager's with
amtool, and the exporter's environment against the exporter's own settings."""

from __future__ import annotations

import glob
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from capgo_exporter.cli import build_parser
from tests.deploy.support import (
    COMPOSE_DIR,
    DOCKERFILE,
    JOB,
    KEY_ENV_NAMES,
    KEY_PLACEHOLDER,
    PORT,
    REPO,
    check_exporter_env,
    load_yaml,
    parse_dockerfile,
    parse_env_file,
)
from tests.tools import require_binary, require_module

COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
EXPORTER = "capgo-exporter"
# Variables compose itself substitutes in compose.yaml, not settings of the exporter.
COMPOSE_VARIABLES = {"CAPGO_EXPORTER_ARGS", "GRAFANA_ADMIN_PASSWORD"}
CONTAINER_PORTS = {EXPORTER: PORT, "prometheus": 9090, "alertmanager": 9093, "grafana": 3000}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path, container path) of each bind mount, host paths resolved like compose."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume["target"]
        else:
            source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(((COMPOSE_DIR / source).resolve(), target))
    return mounts


def test_validates_against_the_compose_specification() -> None:
    require_module("check_jsonschema", "pip install check-jsonschema (the dev extra)")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_mounted_path_exists(compose: dict[str, Any]) -> None:
    missing = [
        f"{name}: {host.relative_to(REPO)} → {target}"
        for name, service in services(compose).items()
        for host, target in bind_mounts(service)
        if not host.exists()
    ]
    # Docker would create a missing source as an empty directory and the service would start
    # without its configuration.
    assert not missing, missing


def test_builds_the_exporter_from_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    build = services(compose)[EXPORTER]["build"]
    context = (COMPOSE_DIR / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        if "build" in service:
            continue
        image = service["image"]
        _, _, tag = image.rpartition(":")
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: pin a release, not {image!r}"


def test_services_wait_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    all_services = services(compose)
    for name, service in all_services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: exec form, no shell needed"
        assert str(CONTAINER_PORTS[name]) in " ".join(test), f"{name}: checks another port"
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in all_services
            assert how == {"condition": "service_healthy"}, f"{name} → {dependency}"
    # The order that gets populated dashboards at first sight.
    assert EXPORTER in all_services["prometheus"]["depends_on"]
    assert "alertmanager" in all_services["prometheus"]["depends_on"]
    assert "prometheus" in all_services["grafana"]["depends_on"]


def test_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        for mapping in service.get("ports", []):
            host, host_port, container_port = str(mapping).rsplit(":", 2)
            # Grafana lets anyone in as a viewer: not on the network by default.
            assert host == "127.0.0.1", f"{name}: {mapping}"
            assert int(container_port) == CONTAINER_PORTS[name] == int(host_port)


def test_exporter_runs_the_demo_unless_told_otherwise(compose: dict[str, Any]) -> None:
    command = services(compose)[EXPORTER]["command"]
    # ${VAR-default}: an empty CAPGO_EXPORTER_ARGS (in .env.example) switches the demo off;
    # ${VAR:-default} would silently keep it.
    match = re.fullmatch(r"\$\{CAPGO_EXPORTER_ARGS-([^}]*)\}", command)
    assert match, command
    args = build_parser().parse_args(shlex.split(match.group(1)))
    assert args.demo
    example = parse_env_file(COMPOSE_DIR / ".env.example")
    assert example["CAPGO_EXPORTER_ARGS"] == ""


def test_exporter_healthcheck_is_the_images(compose: dict[str, Any]) -> None:
    # The image's HEALTHCHECK runs against a live exporter in test_docker.py; compose repeats
    # it only to shorten the intervals.
    (healthcheck,) = parse_dockerfile(DOCKERFILE).final.all("HEALTHCHECK")
    image_argv = json.loads(healthcheck.args.partition("CMD ")[2])
    assert services(compose)[EXPORTER]["healthcheck"]["test"] == ["CMD", *image_argv]


def test_exporter_gets_its_key_from_an_optional_env_file_only(compose: dict[str, Any]) -> None:
    exporter = services(compose)[EXPORTER]
    assert exporter["env_file"] == [{"path": ".env", "required": False}]
    environment = exporter.get("environment", {})
    assert isinstance(environment, dict)
    assert not KEY_ENV_NAMES & set(environment)
    assert not re.search(r"CAPGO_(API_KEY|TOKEN)\s*[:=]", COMPOSE_FILE.read_text())


def test_exporter_settings_are_valid(compose: dict[str, Any], tmp_path: Path) -> None:
    exporter = services(compose)[EXPORTER]
    settings = check_exporter_env(exporter["environment"], tmp_path)
    assert settings.listen_port == PORT
    state = exporter["environment"]["CAPGO_EXPORTER_STATE_DIR"]
    assert f"exporter-state:{state}" in exporter["volumes"]
    # A read-only root filesystem leaves the state volume and /tmp writable, nothing else.
    assert exporter["read_only"] is True
    assert "/tmp" in exporter["tmpfs"]
    assert exporter["cap_drop"] == ["ALL"]


def test_env_example_documents_valid_settings_and_holds_no_key(tmp_path: Path) -> None:
    path = COMPOSE_DIR / ".env.example"
    example = parse_env_file(path, commented=True)
    assert example["CAPGO_API_KEY"] == KEY_PLACEHOLDER
    check_exporter_env(example, tmp_path, others=COMPOSE_VARIABLES)
    # Only the documented optional ones stay commented out: each is still checked above.
    assert set(parse_env_file(path)) == {"CAPGO_API_KEY", "CAPGO_EXPORTER_ARGS"}


def prometheus_layout(compose: dict[str, Any], root: Path) -> Path:
    """Copy Prometheus' bind mounts to ``root`` at their container paths; the config's path.

    promtool resolves rule_files relative to the config file, as Prometheus does in the
    container, so this checks that the mounts and rule_files agree.
    """
    prometheus = services(compose)["prometheus"]
    for host, target in bind_mounts(prometheus):
        destination = root / target.lstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        if host.is_dir():
            shutil.copytree(host, destination)
        else:
            shutil.copy(host, destination)
    return root / "etc/prometheus/prometheus.yml"


def test_prometheus_config_passes_promtool(compose: dict[str, Any], tmp_path: Path) -> None:
    promtool = require_binary("promtool", "apt-get install -y prometheus")
    config_path = prometheus_layout(compose, tmp_path)
    assert config_path.is_file(), "prometheus.yml is not mounted at /etc/prometheus/"
    config = load_yaml(config_path)
    # A rule_files glob that matches nothing passes promtool silently: check each one loads.
    for pattern in config["rule_files"]:
        assert glob.glob(str(config_path.parent / pattern)), f"rule_files {pattern!r}: no file"
    result = subprocess.run(
        [promtool, "check", "config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_prometheus_scrapes_the_exporter_and_alerts_to_alertmanager(
    compose: dict[str, Any],
) -> None:
    config = load_yaml(COMPOSE_DIR / "prometheus.yml")
    all_services = services(compose)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = [target for c in jobs[JOB]["static_configs"] for target in c["targets"]]
    assert targets == [f"{EXPORTER}:{PORT}"]
    # The interval leaves room inside Prometheus' 5-minute staleness window.
    interval = jobs[JOB].get("scrape_interval", config["global"]["scrape_interval"])
    assert interval in {"15s", "30s", "60s", "1m"}
    for job in jobs.values():
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                if host != "localhost":
                    assert host in all_services, target
                    assert int(port) == CONTAINER_PORTS[host], target
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    assert alertmanagers["static_configs"][0]["targets"] == [
        f"alertmanager:{CONTAINER_PORTS['alertmanager']}"
    ]


def test_alertmanager_config_is_valid(compose: dict[str, Any], tmp_path: Path) -> None:
    alertmanager = services(compose)["alertmanager"]
    (config_flag,) = [a for a in alertmanager["command"] if a.startswith("--config.file=")]
    mounts = {target: host for host, target in bind_mounts(alertmanager)}
    host_config = mounts[config_flag.partition("=")[2]]
    config = load_yaml(host_config)
    receivers = {receiver["name"] for receiver in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    # Inhibitions name alerts of the rules file: a renamed alert would silently escape them.
    rules = load_yaml(REPO / "deploy/prometheus/capgo.rules.yml")
    alerts = {rule["alert"] for g in rules["groups"] for rule in g["rules"] if "alert" in rule}
    for inhibit in config["inhibit_rules"]:
        for matcher in inhibit["source_matchers"] + inhibit["target_matchers"]:
            match = re.fullmatch(r'(\w+)\s*(=~|!~|!=|=)\s*"?(.*?)"?', matcher)
            assert match, matcher
            name, op, value = match.groups()
            if name == "alertname" and op in {"=", "=~"}:
                assert any(re.fullmatch(value, a) for a in alerts), f"{matcher}: no such alert"

    amtool = require_binary("amtool", "apt-get install -y prometheus-alertmanager")
    result = subprocess.run(
        [amtool, "check-config", str(host_config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_grafana_is_provisioned_with_prometheus_and_the_dashboards(
    compose: dict[str, Any],
) -> None:
    grafana = services(compose)["grafana"]
    environment = grafana["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    mounts = {target: host for host, target in bind_mounts(grafana)}
    provisioning = mounts["/etc/grafana/provisioning"]

    datasources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    (source,) = [s for s in datasources["datasources"] if s["type"] == "prometheus"]
    assert source["url"] == f"http://prometheus:{CONTAINER_PORTS['prometheus']}"
    # Grafana sizes $__rate_interval from the datasource's scrape interval: they must agree.
    config = load_yaml(COMPOSE_DIR / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
    interval = job.get("scrape_interval", config["global"]["scrape_interval"])
    assert source.get("jsonData", {}).get("timeInterval", interval) == interval

    providers = yaml.safe_load((provisioning / "dashboards/capgo.yml").read_text())
    paths = [provider["options"]["path"] for provider in providers["providers"]]
    assert paths, "no dashboard provider"
    for path in paths:
        # The provider reads the dashboards where compose mounts them.
        assert path in mounts, f"dashboards provider reads {path}, which is not mounted"
        assert list(mounts[path].glob("*.json")), f"no dashboard in {mounts[path]}"


def test_the_env_example_speaks_of_roles_as_capgo_does() -> None:
    # Capgo replaced key modes (read, upload, write, all) with roles.
    text = (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8")
    assert "read-only key" not in text
    keys_doc = (REPO / "docs" / "keys.md").read_text(encoding="utf-8")
    for role in ("org_admin", "org_member", "app_reader"):
        assert role in text
        assert f"`{role}`" in keys_doc
