"""deploy/kubernetes/: core kinds validated offline against a pinned Kubernetes schema
(kubernetes-validate), the Prometheus Operator kinds checked structurally, and the wiring
between them: labels and selectors, ports and probes, the security context, the key."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml

from capgo_exporter import __version__
from capgo_exporter.webconfig import load_web_config
from tests.deploy.kustomize import UnsupportedKustomization, render
from tests.deploy.support import (
    DOCKERFILE,
    JOB,
    KEY_ENV_NAMES,
    KEY_PLACEHOLDER,
    KUBERNETES_DIR,
    PORT,
    REPO,
    check_exporter_env,
    load_yaml,
    load_yaml_documents,
    parse_dockerfile,
    port_of,
)
from tests.test_server import serving
from tests.tools import require_module

# The oldest Kubernetes still in common support when this was written; kubernetes-validate
# picks the newest schema it ships that is not newer.
KUBERNETES_VERSION = "1.32"
OPERATOR_API = "monitoring.coreos.com/v1"
ResourceDoc = dict[str, Any]


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    data = load_yaml(KUBERNETES_DIR / "kustomization.yaml")
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def resources(kustomization: dict[str, Any]) -> list[ResourceDoc]:
    docs = []
    for name in kustomization["resources"]:
        path = KUBERNETES_DIR / name
        assert path.is_file(), f"kustomization.yaml lists {name}, which does not exist"
        docs.extend(load_yaml_documents(path))
    return docs


def one(resources: list[ResourceDoc], kind: str) -> ResourceDoc:
    (doc,) = [doc for doc in resources if doc["kind"] == kind]
    return doc


def pod_spec(resources: list[ResourceDoc]) -> dict[str, Any]:
    spec = one(resources, "Deployment")["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def container(resources: list[ResourceDoc]) -> dict[str, Any]:
    (only,) = pod_spec(resources)["containers"]
    assert isinstance(only, dict)
    return only


def env_of(resources: list[ResourceDoc]) -> dict[str, str]:
    env = {}
    for variable in container(resources)["env"]:
        assert "valueFrom" not in variable or variable["name"] not in KEY_ENV_NAMES
        env[variable["name"]] = variable.get("value", "")
    return env


def test_kustomization_lists_every_manifest_and_no_secret(kustomization: dict[str, Any]) -> None:
    listed = set(kustomization["resources"])
    # Rendered by the rules' generator; listed so `kubectl apply -k` installs the alerts.
    assert "prometheusrule.yaml" in listed
    manifests = {path.name for path in KUBERNETES_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    # The example Secret holds a placeholder: applying it would replace a real key.
    assert manifests - listed == {"secret.example.yaml"}
    assert "secretGenerator" not in kustomization
    assert kustomization["namespace"]
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"


def test_core_kinds_validate_against_the_kubernetes_schema(resources: list[ResourceDoc]) -> None:
    validator = require_module("kubernetes_validate", "pip install kubernetes-validate")
    core = [doc for doc in resources if doc["apiVersion"] != OPERATOR_API]
    core += load_yaml_documents(KUBERNETES_DIR / "secret.example.yaml")
    assert {doc["kind"] for doc in core} >= {"Deployment", "Service", "Secret"}
    for doc in core:
        # strict: an unknown or misspelt field is an error, not silently dropped.
        validator.validate(doc, KUBERNETES_VERSION, strict=True)


def test_schema_validation_catches_a_misplaced_field(resources: list[ResourceDoc]) -> None:
    validator = require_module("kubernetes_validate", "pip install kubernetes-validate")
    broken = one(resources, "Deployment") | {"spec": {"replica": 1}}
    with pytest.raises(validator.ValidationError):
        validator.validate(broken, KUBERNETES_VERSION, strict=True)


def test_operator_kinds_are_well_formed(resources: list[ResourceDoc]) -> None:
    monitor = one(resources, "ServiceMonitor")
    rule = one(resources, "PrometheusRule")
    for doc in (monitor, rule):
        assert doc["apiVersion"] == OPERATOR_API
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])

    assert set(monitor["spec"]) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"}
    for endpoint in monitor["spec"]["endpoints"]:
        assert set(endpoint) <= {
            "port",
            "path",
            "scheme",
            "interval",
            "scrapeTimeout",
            "relabelings",
            "metricRelabelings",
            "honorLabels",
            "tlsConfig",
            "basicAuth",
        }
        assert re.fullmatch(r"\d+[smh]", endpoint["interval"])
        assert re.fullmatch(r"\d+[smh]", endpoint["scrapeTimeout"])

    assert set(rule["spec"]) == {"groups"}
    assert rule["spec"]["groups"]
    for group in rule["spec"]["groups"]:
        assert group["name"]
        assert group["rules"]
        for item in group["rules"]:
            assert ("alert" in item) != ("record" in item), item
            assert isinstance(item["expr"], str)
            assert item["expr"].strip()
            assert set(item) <= {
                "alert",
                "record",
                "expr",
                "for",
                "keep_firing_for",
                "labels",
                "annotations",
            }


def test_labels_and_selectors_line_up(resources: list[ResourceDoc]) -> None:
    deployment = one(resources, "Deployment")
    service = one(resources, "Service")
    monitor = one(resources, "ServiceMonitor")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    # Each selector picks what it is meant to, and only by labels that exist.
    assert selector.items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    service_labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    assert set(monitor["spec"].get("namespaceSelector", {})) <= {"matchNames", "any"}


def test_service_monitor_scrapes_the_metrics_port_as_job_capgo(
    resources: list[ResourceDoc],
) -> None:
    service_ports = {p["name"]: p for p in one(resources, "Service")["spec"]["ports"]}
    container_ports = {p["name"]: p for p in container(resources)["ports"]}
    (endpoint,) = one(resources, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["port"] in service_ports
    assert service_ports["metrics"]["targetPort"] in container_ports
    assert container_ports[service_ports["metrics"]["targetPort"]]["containerPort"] == PORT
    assert endpoint["path"] == "/metrics"
    # The rules and dashboards select job="capgo"; the operator would say "capgo-exporter".
    relabel = [r for r in endpoint.get("relabelings", []) if r.get("targetLabel") == "job"]
    assert [(r.get("action", "replace"), r["replacement"]) for r in relabel] == [("replace", JOB)]


def test_probes_hit_health_and_readiness_on_the_metrics_port(
    resources: list[ResourceDoc],
) -> None:
    main = container(resources)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    # Liveness must not depend on Capgo (a restart does not fix Capgo); readiness waits for
    # the first collection.
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert ports[main[probe]["httpGet"]["port"]] == PORT
        assert main[probe]["httpGet"].get("scheme", "HTTP") == "HTTP"
    assert port_of(env_of(resources)["CAPGO_EXPORTER_WEB_LISTEN_ADDRESS"]) == PORT


def test_pod_is_locked_down(resources: list[ResourceDoc]) -> None:
    spec = pod_spec(resources)
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    # The UID the image creates and owns its state directory with.
    (user,) = parse_dockerfile(DOCKERFILE).final.all("USER")
    uid, _, gid = user.args.partition(":")
    assert pod_security["runAsUser"] == int(uid)
    assert pod_security["runAsGroup"] == pod_security["fsGroup"] == int(gid or uid)

    security = container(resources)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security.get("privileged", False) is False
    assert security.get("runAsUser", pod_security["runAsUser"]) != 0

    assert spec["automountServiceAccountToken"] is False
    for shared in ("hostNetwork", "hostPID", "hostIPC"):
        assert spec.get(shared, False) is False, shared
    # Service links would inject CAPGO_EXPORTER_* variables for the Service capgo-exporter.
    assert spec["enableServiceLinks"] is False
    namespace = one(resources, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_one_replica_replaced_not_rolled(resources: list[ResourceDoc]) -> None:
    spec = one(resources, "Deployment")["spec"]
    # N replicas poll Capgo N times; a rolling update would briefly run two.
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_resources_are_bounded(resources: list[ResourceDoc]) -> None:
    limits = container(resources)["resources"]
    assert {"cpu", "memory"} <= set(limits["requests"])
    assert "memory" in limits["limits"]


def test_writable_paths_are_volumes_and_the_key_is_a_mounted_secret(
    resources: list[ResourceDoc],
) -> None:
    spec = pod_spec(resources)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container(resources)["volumeMounts"]}
    env = env_of(resources)

    def volume_at(path: str) -> tuple[dict[str, Any], str]:
        """The volume holding ``path`` and the path inside it."""
        for mount_path, mount in mounts.items():
            if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
                return volumes[mount["name"]], path[len(mount_path) :].lstrip("/")
        raise AssertionError(f"{path} is on the read-only root filesystem")

    state, _ = volume_at(env["CAPGO_EXPORTER_STATE_DIR"])
    assert "emptyDir" in state or "persistentVolumeClaim" in state
    tmp, _ = volume_at("/tmp")
    assert "emptyDir" in tmp

    assert not KEY_ENV_NAMES & set(env), "the key comes from a file, not a variable"
    secret_volume, inside = volume_at(env["CAPGO_API_KEY_FILE"])
    secret = secret_volume["secret"]
    assert secret["secretName"] == "capgo-exporter"
    assert inside in [item["path"] for item in secret.get("items", [])]
    assert mounts[next(p for p in mounts if env["CAPGO_API_KEY_FILE"].startswith(p))]["readOnly"]
    # Readable by the pod's group (fsGroup), not by the world.
    assert secret["defaultMode"] & 0o007 == 0

    example = load_yaml_documents(KUBERNETES_DIR / "secret.example.yaml")
    (example_secret,) = example
    assert example_secret["metadata"]["name"] == secret["secretName"]
    keys = {**example_secret.get("stringData", {}), **example_secret.get("data", {})}
    assert set(keys) == {item["key"] for item in secret["items"]}


def test_no_key_in_any_manifest(resources: list[ResourceDoc]) -> None:
    assert not [doc for doc in resources if doc["kind"] == "Secret"]
    for doc in load_yaml_documents(KUBERNETES_DIR / "secret.example.yaml"):
        assert doc.get("stringData", {}) == {"api-key": KEY_PLACEHOLDER}
        assert "data" not in doc
    for path in KUBERNETES_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*-?\s*name:\s*CAPGO_(API_KEY|TOKEN)\s*$", text, re.M), path


def test_environment_is_accepted_by_the_exporter(
    resources: list[ResourceDoc], tmp_path: Path
) -> None:
    settings = check_exporter_env(env_of(resources), tmp_path)
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == KEY_PLACEHOLDER
    assert settings.log_format == "json"


@pytest.fixture(scope="module")
def rendered() -> list[ResourceDoc]:
    return render(KUBERNETES_DIR)


def _images(docs: list[ResourceDoc]) -> list[str]:
    return [
        c["image"]
        for doc in docs
        if doc["kind"] == "Deployment"
        for c in doc["spec"]["template"]["spec"]["containers"]
    ]


def test_the_kustomization_builds_the_documented_image(
    rendered: list[ResourceDoc], kustomization: dict[str, Any]
) -> None:
    reference = f"capgo-exporter:{__version__}"
    # One place names it: the images: entry; deployment.yaml has the bare name it replaces.
    as_written = load_yaml_documents(KUBERNETES_DIR / "deployment.yaml")
    assert _images(as_written) == ["capgo-exporter"]
    assert kustomization["images"] == [
        {"name": "capgo-exporter", "newName": "capgo-exporter", "newTag": __version__}
    ]
    assert _images(rendered) == [reference]
    # What the README tells a user to build and load is what the cluster will run.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Kubernetes", 1)[1].split("\n### ", 1)[0]
    assert f"docker build -f deploy/docker/Dockerfile -t {reference} ." in section
    assert f"kind load docker-image {reference}" in section
    assert "kubectl apply -k deploy/kubernetes" in section
    namespaced = [doc for doc in rendered if doc["kind"] != "Namespace"]
    assert {doc["metadata"]["namespace"] for doc in namespaced} == {kustomization["namespace"]}


def test_the_rendered_probes_pass_without_credentials_when_basic_auth_is_on(
    rendered: list[ResourceDoc], tmp_path: Path
) -> None:
    (main,) = pod_spec(rendered)["containers"]
    probes = {name: main[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert {probe["path"] for probe in probes.values()} == {"/healthz", "/readyz"}
    assert all("httpHeaders" not in probe for probe in probes.values())  # no credentials
    password_hash = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prometheus: '{password_hash}'\n")
    config = load_web_config(web)
    with serving(web_config=config) as url:
        assert httpx.get(url + "metrics").status_code == 401
        for probe in probes.values():
            assert httpx.get(url + probe["path"].lstrip("/")).status_code == 200


def test_the_offline_rendering_is_what_kubectl_builds(rendered: list[ResourceDoc]) -> None:
    """Where kubectl exists (CI's machine need not have it): kustomize itself agrees."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the offline rendering was checked above")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES_DIR)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def by_name(docs: list[ResourceDoc]) -> dict[tuple[str, str], ResourceDoc]:
        return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}

    assert by_name(built) == by_name(rendered)


def test_the_renderer_refuses_what_it_does_not_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(UnsupportedKustomization, match="commonLabels"):
        render(tmp_path)
