"""A small kustomize renderer for exactly the features ``k8s/`` uses, so the tests can
render the kustomizations without a kustomize binary.

Supported, with kustomize's meaning: ``resources`` (YAML files and directories holding a
``kustomization.yaml``), ``namespace``, ``labels`` (``includeSelectors: false`` only, with
``includeTemplates``), ``images`` (``newName``/``newTag``/``digest`` on ``containers`` and
``initContainers``), ``patches`` given by ``path`` as strategic merge patches (merge keys
for the pod-spec lists listed in ``MERGE_KEYS``), and ``secretGenerator`` with ``files``
or ``literals`` and ``disableNameSuffixHash: true``. Anything else raises
``Unsupported`` instead of being silently ignored: a manifest change that needs more of
kustomize fails here first. Where ``kubectl`` is installed, a test compares this
renderer's output with ``kubectl kustomize``.
"""

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "patches",
    "secretGenerator",
}
CLUSTER_SCOPED_KINDS = {"Namespace"}
TEMPLATED_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# Strategic-merge keys of the lists a patch may touch (as in the Kubernetes API's
# patchMergeKey); any other list is replaced by the patch's.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


class Unsupported(Exception):
    """The kustomization uses a feature this renderer does not implement."""


def build(directory: Path) -> list[Resource]:
    """Render the kustomization in ``directory`` (like ``kustomize build``)."""
    directory = directory.resolve()
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    if unknown:
        raise Unsupported(f"{directory}: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            resources.extend(build(path))
        else:
            resources.extend(load_documents(path))
    for generator in kustomization.get("secretGenerator", []):
        resources.append(generate_secret(directory, generator))
    transform(resources, directory, kustomization)
    check_unique(resources)
    return resources


def transform(resources: list[Resource], directory: Path, kustomization: dict[str, Any]) -> None:
    """Patches, images, labels, namespace: each over everything this level holds."""
    for patch in kustomization.get("patches", []):
        apply_patch(resources, directory, patch)
    for image in kustomization.get("images", []):
        for resource in resources:
            set_images(resource, image)
    for label in kustomization.get("labels", []):
        for resource in resources:
            add_labels(resource, label)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED_KINDS:
                resource["metadata"]["namespace"] = kustomization["namespace"]


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resource_id(resource: Resource) -> tuple[str, str, str]:
    meta = resource["metadata"]
    return (resource["kind"], meta.get("namespace", ""), meta["name"])


def check_unique(resources: list[Resource]) -> None:
    ids = [resource_id(r) for r in resources]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"the same resource twice: {sorted(duplicates)}")


def generate_secret(directory: Path, generator: dict[str, Any]) -> Resource:
    unknown = set(generator) - {"name", "files", "literals", "type", "options"}
    options = generator.get("options", {})
    unknown |= set(options) - {"disableNameSuffixHash", "labels"}
    if unknown:
        raise Unsupported(f"secretGenerator {generator['name']}: {sorted(unknown)}")
    if options.get("disableNameSuffixHash") is not True:
        raise Unsupported("secretGenerator without disableNameSuffixHash: true (name hashes)")
    data: dict[str, str] = {}
    for entry in generator.get("files", []):
        key, _, name = entry.rpartition("=")
        path = directory / name
        data[key or path.name] = base64.b64encode(path.read_bytes()).decode()
    for entry in generator.get("literals", []):
        key, _, value = entry.partition("=")
        data[key] = base64.b64encode(value.encode()).decode()
    metadata: dict[str, Any] = {"name": generator["name"]}
    if "labels" in options:
        metadata["labels"] = dict(options["labels"])
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": generator.get("type", "Opaque"),
        "data": data,
    }


def apply_patch(resources: list[Resource], directory: Path, patch: dict[str, Any]) -> None:
    if set(patch) != {"path"}:
        raise Unsupported(f"patch {patch}: only strategic merge patches given by path")
    for document in load_documents(directory / patch["path"]):
        targets = [
            r
            for r in resources
            if r["kind"] == document["kind"]
            and r["metadata"]["name"] == document["metadata"]["name"]
        ]
        if len(targets) != 1:
            raise ValueError(f"patch {patch['path']} matches {len(targets)} resources")
        merged = strategic_merge(targets[0], document)
        targets[0].clear()
        targets[0].update(merged)


def strategic_merge(original: Any, patch: Any, key: str | None = None) -> Any:
    """``patch`` merged into ``original``: maps key by key (``null`` deletes), lists in
    ``MERGE_KEYS`` item by merge key (the patch's items first, as kustomize orders
    them), every other value replaced."""
    if isinstance(patch, dict) and isinstance(original, dict):
        if any(k.startswith("$") for k in patch):
            raise Unsupported(f"patch directives {sorted(k for k in patch if k[0] == '$')}")
        merged = copy.deepcopy(original)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            elif name in merged:
                merged[name] = strategic_merge(merged[name], value, name)
            else:
                merged[name] = copy.deepcopy(value)
        return merged
    if isinstance(patch, list) and isinstance(original, list) and key in MERGE_KEYS:
        # kustomize (kyaml) orders the result: the patch's items, then the others.
        merge_key = MERGE_KEYS[key]
        olds = {item[merge_key]: item for item in original}
        patched = [
            strategic_merge(olds[item[merge_key]], item)
            if item[merge_key] in olds
            else copy.deepcopy(item)
            for item in patch
        ]
        keys = {item[merge_key] for item in patch}
        return patched + [copy.deepcopy(i) for i in original if i[merge_key] not in keys]
    return copy.deepcopy(patch)


def split_image(image: str) -> tuple[str, str]:
    """``registry:5000/name:tag@digest`` -> (``registry:5000/name``, ``:tag@digest``)."""
    name, at, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon:] + at + digest
    return name, at + digest


def set_images(node: Any, image: dict[str, str]) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise Unsupported(f"images: {sorted(unknown)}")
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    container["image"] = new_image(container["image"], image)
            else:
                set_images(value, image)
    elif isinstance(node, list):
        for item in node:
            set_images(item, image)


def new_image(current: str, image: dict[str, str]) -> str:
    name, suffix = split_image(current)
    if name != image["name"]:
        return current
    name = image.get("newName", name)
    if "digest" in image:
        return f"{name}@{image['digest']}"
    if "newTag" in image:
        return f"{name}:{image['newTag']}"
    return name + suffix


def add_labels(resource: Resource, label: dict[str, Any]) -> None:
    unknown = set(label) - {"pairs", "includeSelectors", "includeTemplates"}
    if unknown or label.get("includeSelectors", False):
        raise Unsupported(f"labels: {label} (includeSelectors: false only)")
    pairs = label["pairs"]
    resource["metadata"].setdefault("labels", {}).update(pairs)
    if label.get("includeTemplates", False) and resource["kind"] in TEMPLATED_KINDS:
        template = resource["spec"]["template"]
        template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
