import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.k8s.kustomize import Resource, build

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = sorted(p.parent.name for p in (K8S / "overlays").glob("*/kustomization.yaml"))
# Every kustomization root that `kubectl apply -k` may be pointed at.
KUSTOMIZATIONS = ["base", "postgres", "namespace", *(f"overlays/{o}" for o in OVERLAYS)]


@pytest.fixture(scope="session")
def k8s_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of k8s/ with each overlay's git-ignored secret files made from their
    committed ``*.example`` templates, as the README tells an operator to do."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("api-keys", "database-url"))
    for example in tree.glob("overlays/*/secrets/*.example"):
        shutil.copyfile(example, example.with_suffix(""))
    return tree


@pytest.fixture(scope="session")
def render(k8s_tree: Path) -> Callable[[str], list[Resource]]:
    def rendered(kustomization: str) -> list[Resource]:
        return build(k8s_tree / kustomization)

    return rendered
