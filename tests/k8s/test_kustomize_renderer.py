"""The test renderer (tests/k8s/kustomize.py) on a tiny kustomization, its refusals, and,
where kubectl is installed, its output against ``kubectl kustomize`` for every
kustomization in k8s/."""

import base64
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.conftest import KUSTOMIZATIONS
from tests.k8s.kustomize import Resource, Unsupported, build, resource_id, split_image

KUBECTL = shutil.which("kubectl")


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return directory


DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, labels: {app: web}}
    spec:
      replicas: 1
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
            - name: web
              image: web:1.0
              env:
                - {name: A, value: "1"}
                - {name: B, value: "2"}
              resources: {limits: {cpu: "1", memory: 1Gi}}
            - name: sidecar
              image: registry.local:5000/side:2.0
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "base/kustomization.yaml": """\
                resources: [deployment.yaml, service.yaml]
                labels:
                  - pairs: {team: a}
                    includeTemplates: true
            """,
            "base/deployment.yaml": DEPLOYMENT,
            "base/service.yaml": """\
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec: {selector: {app: web}, ports: [{port: 80}]}
                ---
                apiVersion: v1
                kind: Namespace
                metadata: {name: shop}
            """,
            "overlay/kustomization.yaml": """\
                namespace: shop
                resources: [../base]
                images:
                  - {name: web, newName: example.org/web, newTag: "2.0"}
                  - {name: registry.local:5000/side, newTag: "2.1"}
                patches:
                  - path: patch.yaml
                secretGenerator:
                  - name: keys
                    files: [k=key.txt]
                    literals: [user=ann]
                    options: {disableNameSuffixHash: true, labels: {team: a}}
            """,
            "overlay/key.txt": "s3cret",
            "overlay/patch.yaml": """\
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  replicas: 3
                  template:
                    spec:
                      containers:
                        - name: web
                          env:
                            - {name: B, value: "two"}
                            - {name: C, value: "3"}
                          resources: {limits: {memory: 2Gi}}
                          readinessProbe: null
            """,
        },
    )
    return tmp_path / "overlay"


def by_kind(resources: list[Resource]) -> dict[str, Resource]:
    return {r["kind"]: r for r in resources}


def test_the_tiny_overlay_renders_as_kustomize_would(tiny: Path) -> None:
    rendered = by_kind(build(tiny))

    deployment = rendered["Deployment"]
    assert deployment["metadata"] == {
        "name": "web",
        "namespace": "shop",
        "labels": {"app": "web", "team": "a"},
    }
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "web", "team": "a"}
    web, sidecar = template["spec"]["containers"]
    assert web["image"] == "example.org/web:2.0"
    assert sidecar["image"] == "registry.local:5000/side:2.1"
    assert web["env"] == [
        {"name": "B", "value": "two"},
        {"name": "C", "value": "3"},
        {"name": "A", "value": "1"},
    ]
    assert web["resources"] == {"limits": {"cpu": "1", "memory": "2Gi"}}
    assert "readinessProbe" not in web

    assert rendered["Service"]["metadata"]["namespace"] == "shop"
    assert rendered["Service"]["spec"]["selector"] == {"app": "web"}
    assert "namespace" not in rendered["Namespace"]["metadata"]
    secret = rendered["Secret"]
    assert secret["metadata"] == {"name": "keys", "namespace": "shop", "labels": {"team": "a"}}
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v) for k, v in secret["data"].items()} == {
        "k": b"s3cret",
        "user": b"ann",
    }


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("web", ("web", "")),
        ("web:1.0", ("web", ":1.0")),
        ("registry.local:5000/side", ("registry.local:5000/side", "")),
        ("registry.local:5000/side:2.0", ("registry.local:5000/side", ":2.0")),
        ("web@sha256:abc", ("web", "@sha256:abc")),
    ],
)
def test_image_names_split_from_tags_and_digests(image: str, parts: tuple[str, str]) -> None:
    assert split_image(image) == parts


@pytest.mark.parametrize(
    "kustomization",
    [
        "resources: [d.yaml]\nconfigMapGenerator: [{name: c, literals: [a=b]}]\n",
        "resources: [d.yaml]\nlabels: [{pairs: {a: b}, includeSelectors: true}]\n",
        "resources: [d.yaml]\nsecretGenerator: [{name: s, literals: [a=b]}]\n",
        "resources: [d.yaml]\npatches: [{path: p.yaml, target: {kind: Deployment}}]\n",
        "resources: [d.yaml]\npatches: [{path: p.yaml}]\n",
    ],
)
def test_features_it_does_not_implement_are_refused(tmp_path: Path, kustomization: str) -> None:
    write(
        tmp_path,
        {
            "kustomization.yaml": kustomization,
            "d.yaml": DEPLOYMENT,
            "p.yaml": "kind: Deployment\nmetadata: {name: web}\nspec: {$patch: replace}\n",
        },
    )
    with pytest.raises(Unsupported):
        build(tmp_path)


def kubectl_kustomize(directory: Path) -> list[Resource]:
    assert KUBECTL is not None
    out = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def comparable(resources: list[Resource]) -> dict[tuple[str, str, str], Any]:
    """By identity, with Secret data decoded (kubectl wraps long base64 lines)."""
    result = {}
    for resource in resources:
        decoded = resource
        if resource["kind"] == "Secret":
            data = {k: base64.b64decode(v) for k, v in resource["data"].items()}
            decoded = {**resource, "data": data}
        result[resource_id(resource)] = decoded
    return result


needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


@needs_kubectl
def test_the_tiny_overlay_renders_as_kubectl_kustomize_does(tiny: Path) -> None:
    assert comparable(build(tiny)) == comparable(kubectl_kustomize(tiny))


@needs_kubectl
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_kustomization_renders_as_kubectl_kustomize_does(
    render: Callable[[str], list[Resource]], k8s_tree: Path, kustomization: str
) -> None:
    assert comparable(render(kustomization)) == comparable(
        kubectl_kustomize(k8s_tree / kustomization)
    )
