"""Static checks of the Dockerfile and .dockerignore. No container engine runs here, so
these read the files: they show the image is built in stages from pinned bases, runs as
the non-root user the manifests expect, on the port they probe, with the locked runtime
dependencies only. They do not show that the image builds or starts."""

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field

import pytest

from tests.k8s.conftest import ROOT
from tests.k8s.kustomize import build


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for k, args in self.instructions if k == keyword]


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]


def parse(text: str) -> Dockerfile:
    """Instructions by stage, with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede FROM: {line}"
            arg_name, _, default = rest.partition("=")
            args[arg_name] = default
        else:
            stages[-1].instructions.append((keyword, rest.strip()))
    return Dockerfile(args, stages)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse((ROOT / "Dockerfile").read_text())


def deployment_container() -> tuple[dict[str, object], dict[str, object]]:
    resources = build(ROOT / "k8s" / "base")
    [deployment] = [r for r in resources if r["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def test_the_parser_joins_continuations_and_resolves_base_args() -> None:
    parsed = parse(
        "ARG BASE=img:1\nFROM ${BASE} AS one\n# note\nRUN a \\\n    b\nFROM one\nUSER 5\n"
    )
    assert [(s.image, s.name) for s in parsed.stages] == [("img:1", "one"), ("one", None)]
    assert parsed.stages[0].instructions == [("RUN", "a b")]
    assert parsed.stages[1].all("USER") == ["5"]


def test_it_is_built_in_stages_from_pinned_images(dockerfile: Dockerfile) -> None:
    builder, runtime = dockerfile.stages
    assert builder.name == "builder"
    assert runtime.image == builder.image, "the venv's interpreter path must exist at runtime"
    for stage in dockerfile.stages:
        repository, _, tag = stage.image.partition("@")[0].rpartition(":")
        assert repository == "python"
        assert tag.startswith("3.11-"), stage.image
        assert "latest" not in stage.image


def test_the_builder_installs_the_locked_runtime_dependencies_only(
    dockerfile: Dockerfile,
) -> None:
    builder = dockerfile.stages[0]
    syncs = [shlex.split(r) for r in builder.all("RUN") if r.startswith("uv sync")]
    assert syncs
    for sync in syncs:
        assert "--locked" in sync
        assert "--no-dev" in sync
        assert "--extra" not in sync
        assert "--all-extras" not in sync
    assert "--no-editable" in syncs[-1], "the runtime stage does not have the sources"
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv is not None
    assert f"UV_VERSION={makefile_uv.group(1)}" in builder.all("ARG")
    assert any("UV_PROJECT_ENVIRONMENT=/opt/venv" in e for e in builder.all("ENV"))


def test_the_runtime_holds_the_venv_only_and_runs_as_the_manifests_user(
    dockerfile: Dockerfile,
) -> None:
    runtime = dockerfile.stages[-1]
    copies = runtime.all("COPY")
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    [user] = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "numeric, so runAsNonRoot can verify it"
    assert int(uid) != 0
    pod, _ = deployment_container()
    security = pod["securityContext"]
    assert isinstance(security, dict)
    assert (security["runAsUser"], security["runAsGroup"]) == (int(uid), int(gid or uid))
    [create_user] = runtime.all("RUN")
    assert f"--uid {uid} --gid {gid or uid}" in create_user


def test_the_port_and_command_are_the_ones_the_manifests_use(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stages[-1]
    _, container = deployment_container()
    [port] = container["ports"]  # type: ignore[misc]
    assert runtime.all("EXPOSE") == [str(port["containerPort"])]
    assert json.loads(runtime.all("ENTRYPOINT")[0]) == ["tradewinds", "serve"]
    assert "command" not in container
    assert "args" not in container
    [env] = runtime.all("ENV")
    assert f"TRADEWINDS_PORT={port['containerPort']}" in env
    assert "TRADEWINDS_HOST=0.0.0.0" in env


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, for the patterns used: the last pattern that matches decides."""
    result = False
    for line in patterns:
        negated = line.startswith("!")
        pattern = line.removeprefix("!")
        matches = fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/")
        if pattern.startswith("**/"):
            matches = matches or fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern[3:])
        if matches:
            result = not negated
    return result


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_private(
    dockerfile: Dockerfile,
) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        source
        for args in dockerfile.stages[0].all("COPY")
        for source in args.split()[:-1]
        if not source.startswith("--")
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source, patterns), source
    for private in (
        ".venv/bin/python",
        ".git/config",
        "data/tradewinds.sqlite3",
        "k8s/overlays/example/secrets/api-keys",
        "tests/conftest.py",
        "service/__pycache__/app.cpython-311.pyc",
    ):
        assert ignored(private, patterns), private
