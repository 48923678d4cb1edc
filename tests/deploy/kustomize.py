"""What ``kubectl kustomize`` builds from a kustomization, for the fields ours uses, in Python:
CI's machine has no kubectl (it is not a Debian package), so the deploy tests render offline.

Supported: ``resources`` (files, in order), ``namespace`` (set on every namespaced object) and
``images`` (``newName``, ``newTag``, ``digest``, matched on the image name without its tag).
Any other field of the kustomization is refused, so the rendering cannot silently differ
from kustomize's; where kubectl exists, a test compares the two.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = frozenset({"apiVersion", "kind", "namespace", "resources", "images"})
# Kinds the namespace transformer leaves alone (cluster-scoped).
CLUSTER_SCOPED = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
)
Doc = dict[str, Any]


class UnsupportedKustomization(ValueError):
    pass


def render(directory: Path) -> list[Doc]:
    """The objects ``kubectl kustomize directory`` prints, in the order of ``resources``."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise UnsupportedKustomization(f"not rendered here: {', '.join(sorted(unknown))}")
    docs: list[Doc] = []
    for name in spec.get("resources", []):
        text = (directory / name).read_text(encoding="utf-8")
        docs += [copy.deepcopy(doc) for doc in yaml.safe_load_all(text) if doc]
    namespace = spec.get("namespace")
    for doc in docs:
        if namespace and doc["kind"] not in CLUSTER_SCOPED:
            doc.setdefault("metadata", {})["namespace"] = namespace
        for container in _containers(doc):
            container["image"] = _image(container["image"], spec.get("images", []))
    return docs


def _containers(doc: Doc) -> list[Doc]:
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    found: list[Doc] = [*pod.get("containers", []), *pod.get("initContainers", [])]
    return found


def _split(image: str) -> tuple[str, str]:
    """``name`` and what follows it (``:tag``, ``@digest`` or nothing)."""
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, "@" + digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def _image(image: str, rules: list[Doc]) -> str:
    name, suffix = _split(image)
    for rule in rules:
        if rule["name"] != name:
            continue
        name = rule.get("newName", name)
        if "digest" in rule:
            suffix = "@" + rule["digest"]
        elif "newTag" in rule:
            suffix = ":" + str(rule["newTag"])
        break
    return name + suffix
