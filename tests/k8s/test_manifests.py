"""The rendered k8s/ manifests: valid against the Kubernetes schemas (offline, with
kubernetes-validate), and consistent with the app, its settings and the Dockerfile."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from service.settings import Settings, settings_from_env
from service.web.app import create_app
from tests.k8s.conftest import KUSTOMIZATIONS, OVERLAYS
from tests.k8s.kustomize import Resource

# The oldest Kubernetes the manifests are meant for, and the newest kubernetes-validate
# ships schemas for.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]
# Custom resources: not in the Kubernetes schemas; their shape is checked below.
CUSTOM_KINDS = {("postgresql.cnpg.io/v1", "Cluster")}
APP = "tradewinds"

Render = Callable[[str], list[Resource]]


def one(resources: list[Resource], kind: str, name: str = APP) -> Resource:
    [found] = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


def pod_spec(resources: list[Resource]) -> dict[str, Any]:
    spec: dict[str, Any] = one(resources, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(resources: list[Resource]) -> dict[str, Any]:
    [app] = [c for c in pod_spec(resources)["containers"] if c["name"] == APP]
    return app


def container_port(resources: list[Resource], port: int | str) -> int:
    """A port as a number, resolving a name through the container's ports."""
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in container(resources)["ports"] if p["name"] == port]
    return int(number)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, render: Render) -> list[Resource]:
    return render(f"overlays/{request.param}")


@pytest.fixture(params=["base", *(f"overlays/{o}" for o in OVERLAYS)])
def deployable(request: pytest.FixtureRequest, render: Render) -> list[Resource]:
    """Every kustomization that holds the application."""
    return render(request.param)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_manifest_validates_against_the_kubernetes_schema(
    render: Render, kustomization: str, version: str
) -> None:
    resources = render(kustomization)
    assert resources
    for resource in resources:
        if (resource["apiVersion"], resource["kind"]) in CUSTOM_KINDS:
            continue
        # strict: unknown fields (a typo, a field of another version) fail too.
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_overlays_hold_every_kind_the_issue_asks_for(render: Render) -> None:
    example = {(r["apiVersion"], r["kind"]) for r in render("overlays/example")}
    assert example >= {
        ("v1", "Namespace"),
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
        ("postgresql.cnpg.io/v1", "Cluster"),
    }
    external = {r["kind"] for r in render("overlays/external-database")}
    assert "Cluster" not in external


def test_the_cloudnativepg_cluster_has_the_shape_the_deployment_relies_on(
    render: Render,
) -> None:
    """Checked by hand, not against CloudNativePG's CRD schema (not shipped offline):
    the fields used, and that the Secret the operator generates for the application
    ("<cluster>-app", key "uri") is the one the Deployment reads."""
    resources = render("overlays/example")
    [cluster] = [r for r in resources if r["kind"] == "Cluster"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert set(cluster) == {"apiVersion", "kind", "metadata", "spec"}
    assert cluster["metadata"]["namespace"] == one(resources, "Deployment")["metadata"]["namespace"]
    spec = cluster["spec"]
    assert set(spec) <= {
        "instances",
        "imageName",
        "primaryUpdateStrategy",
        "bootstrap",
        "postgresql",
        "storage",
        "resources",
    }
    assert isinstance(spec["instances"], int)
    assert spec["instances"] >= 1
    assert re.fullmatch(r"[^:@]+:\d+(\.\d+)*", spec["imageName"]), "a pinned PostgreSQL image"
    initdb = spec["bootstrap"]["initdb"]
    assert isinstance(initdb["database"], str)
    assert isinstance(initdb["owner"], str)
    assert re.fullmatch(r"\d+[GM]i", spec["storage"]["size"])
    assert all(isinstance(v, str) for v in spec["postgresql"]["parameters"].values())

    url = env(resources)["TRADEWINDS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert url == {"name": f"{cluster['metadata']['name']}-app", "key": "uri"}


def test_the_external_database_overlay_provides_the_same_secret(render: Render) -> None:
    resources = render("overlays/external-database")
    ref = env(resources)["TRADEWINDS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    secret = one(resources, "Secret", ref["name"])
    assert set(secret["data"]) == {ref["key"]}


def test_the_probe_paths_are_routes_of_the_app(deployable: list[Resource]) -> None:
    app = create_app(Settings(data_dir=Path("unused")))
    routes = {route.path for route in app.routes if "GET" in getattr(route, "methods", ())}
    app_container = container(deployable)
    probes = {
        name: app_container[name]["httpGet"]["path"]
        for name in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert probes == {
        "startupProbe": "/health/ready",
        "readinessProbe": "/health/ready",
        "livenessProbe": "/health/live",
    }
    assert set(probes.values()) <= routes


def test_one_port_from_the_settings_through_the_probes_to_the_service(
    deployable: list[Resource],
) -> None:
    [http] = container(deployable)["ports"]
    port = http["containerPort"]
    settings = one(deployable, "ConfigMap")["data"]
    assert int(settings["TRADEWINDS_PORT"]) == port
    assert settings["TRADEWINDS_HOST"] == "0.0.0.0"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container_port(deployable, container(deployable)[probe]["httpGet"]["port"]) == port
    [service_port] = one(deployable, "Service")["spec"]["ports"]
    assert container_port(deployable, service_port["targetPort"]) == port


def test_the_pod_runs_unprivileged_on_a_read_only_root(deployable: list[Resource]) -> None:
    pod = pod_spec(deployable)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for c in pod["containers"]:
        security = c["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security.get("privileged", False) is False
        assert security["capabilities"] == {"drop": ["ALL"]}
    # What the "restricted" Pod Security Standard (enforced on the namespace) allows.
    allowed = {"configMap", "emptyDir", "projected", "secret", "persistentVolumeClaim"}
    for volume in pod["volumes"]:
        assert set(volume) - {"name"} <= allowed


def test_the_writable_paths_are_empty_dirs(deployable: list[Resource]) -> None:
    volumes = {v["name"]: v for v in pod_spec(deployable)["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container(deployable)["volumeMounts"]}
    data_dir = one(deployable, "ConfigMap")["data"]["TRADEWINDS_DATA_DIR"]
    for path in ("/tmp", data_dir):
        assert "emptyDir" in mounts[path], path


def test_the_api_keys_file_is_the_mounted_secret(deployable: list[Resource]) -> None:
    keys_file = Path(env(deployable)["TRADEWINDS_API_KEYS_FILE"]["value"])
    volumes = {v["name"]: v for v in pod_spec(deployable)["volumes"]}
    mounts = container(deployable)["volumeMounts"]
    [mount] = [m for m in mounts if Path(m["mountPath"]) == keys_file.parent]
    assert mount["readOnly"] is True
    secret_name = volumes[mount["name"]]["secret"]["secretName"]
    generated = [r for r in deployable if r["kind"] == "Secret"]
    if generated:  # the overlays generate it; the base leaves it to them
        assert keys_file.name in one(deployable, "Secret", secret_name)["data"]


def test_termination_leaves_time_to_drain_and_finish(deployable: list[Resource]) -> None:
    pod = pod_spec(deployable)
    command = container(deployable)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    drain = int(command[1])
    assert drain >= 5, "endpoints need a few seconds to drop the pod"
    # Then the service's own graceful shutdown (TRADEWINDS_SHUTDOWN_TIMEOUT_S), then
    # closing the store.
    shutdown = settings_from_env(one(deployable, "ConfigMap")["data"]).shutdown_timeout_s
    assert pod["terminationGracePeriodSeconds"] >= drain + shutdown + 5


def env(resources: list[Resource]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(resources)["env"]}


def manifest_environment(resources: list[Resource], keys_file: Path) -> dict[str, str]:
    """The TRADEWINDS_* variables the container gets: the ConfigMap's, its literal env
    values, and samples for those that come from Secrets."""
    [config] = container(resources)["envFrom"]
    assert config == {"configMapRef": {"name": APP}}
    environment = dict(one(resources, "ConfigMap")["data"])
    samples = {"TRADEWINDS_DATABASE_URL": "postgresql://tradewinds:pw@db:5432/tradewinds"}
    for name, variable in env(resources).items():
        if name == "TRADEWINDS_API_KEYS_FILE":
            environment[name] = str(keys_file)
        else:
            environment[name] = variable.get("value", samples[name])
    return environment


def changed(value: str) -> str:
    """Another value of the same type (a number plus one, a text extended)."""
    try:
        return str(int(value) + 1)
    except ValueError:
        pass
    try:
        return str(float(value) + 1)
    except ValueError:
        return value + "x"


def test_every_setting_the_manifests_set_is_one_the_service_reads(
    deployable: list[Resource], tmp_path: Path
) -> None:
    """By behaviour: each variable, alone, changes what ``settings_from_env`` returns,
    and all of them together parse."""
    keys_file = tmp_path / "api-keys"
    keys_file.write_text("a-key:admin")
    environment = manifest_environment(deployable, keys_file)
    assert all(name.startswith("TRADEWINDS_") for name in environment)
    defaults = settings_from_env({})
    settings_from_env(environment)
    for name, value in environment.items():
        if settings_from_env({name: value}) == defaults:
            value = changed(value)  # noqa: PLW2901 (the manifest's value is the default)
        assert settings_from_env({name: value}) != defaults, f"{name} is not read"


def test_the_example_api_keys_files_have_the_format_the_service_parses(
    k8s_tree: Path,
) -> None:
    """So an operator who edits the example gets a file the service accepts."""
    for name in OVERLAYS:
        keys_file = k8s_tree / "overlays" / name / "secrets" / "api-keys"
        settings = settings_from_env({"TRADEWINDS_API_KEYS_FILE": str(keys_file)})
        assert len(settings.api_keys) == 2


def test_replicas_autoscaling_and_disruption_budget_agree(deployable: list[Resource]) -> None:
    deployment = one(deployable, "Deployment")
    hpa = one(deployable, "HorizontalPodAutoscaler")
    pdb = one(deployable, "PodDisruptionBudget")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] >= 2
    assert (
        hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    )
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # A node drain can always evict one pod.
    assert pdb["spec"]["minAvailable"] == 1 < hpa["spec"]["minReplicas"]
    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0


def test_selectors_select_the_pods_and_labels_are_consistent(
    deployable: list[Resource],
) -> None:
    deployment = one(deployable, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = [
        deployment["spec"]["selector"]["matchLabels"],
        one(deployable, "Service")["spec"]["selector"],
        one(deployable, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert selector == {
            "app.kubernetes.io/name": APP,
            "app.kubernetes.io/component": "api",
        }
        assert selector.items() <= pod_labels.items()
    for resource in deployable:
        labels = resource["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == APP, resource["kind"]
        if resource["kind"] != "Namespace":
            assert {"app.kubernetes.io/name", "app.kubernetes.io/component"} <= set(labels)


def test_the_overlays_set_namespace_image_and_size(overlay: list[Resource]) -> None:
    [namespace] = [r for r in overlay if r["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for resource in overlay:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == namespace["metadata"]["name"]
    image = container(overlay)["image"]
    name, _, tag = image.rpartition(":")
    assert "/" in name, "an image from a registry"
    assert tag
    assert tag != "latest"
    resources = container(overlay)["resources"]
    for kind in ("cpu", "memory"):
        assert kind in resources["requests"]
    assert "memory" in resources["limits"]
