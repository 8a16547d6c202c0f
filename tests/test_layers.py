"""The dependency arrows of docs/architecture.md, checked on the source.

``domain/`` imports nothing of ours outside ``domain/``; ``forecasts/`` imports
neither ``domain/`` nor ``service/``; in ``service/``, only ``service/web/`` and
``service/cli/`` import ``service/web/`` (the queries return read-model values
and the web layer turns them into wire structs)."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("domain", "forecasts", "service")


def imported_modules(source: str) -> Iterator[str]:
    """Every module an import statement names, at any depth of the file
    (imports inside functions count: they are dependencies all the same).
    ``from a import b`` names ``a.b``, which is the module ``a.b`` or a name in
    ``a``: either way it depends on ``a``, and on ``a.b`` if that is a module."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _forbidden(package: str, relative: Path, module: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    if top not in OURS:
        return False
    if package == "domain":
        return top != "domain"
    if package == "forecasts":
        return top != "forecasts"
    in_web_or_cli = relative.parts[:2] in {("service", "web"), ("service", "cli")}
    return (module == "service.web" or module.startswith("service.web.")) and not in_web_or_cli


def violations(root: Path) -> list[str]:
    found: list[str] = []
    for package in OURS:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            for module in imported_modules(path.read_text()):
                if _forbidden(package, relative, module):
                    found.append(f"{relative} imports {module}")
    return sorted(set(found))


def test_the_layers_import_only_downwards() -> None:
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("domain/x.py", "from service.settings import Settings\n", ["service.settings.Settings"]),
        ("domain/x.py", "def f():\n    import forecasts.model\n", ["forecasts.model"]),
        ("forecasts/x.py", "from domain import events\n", ["domain.events"]),
        (
            "service/queries/x.py",
            "from service.web.schemas import Forecast\n",
            ["service.web.schemas.Forecast"],
        ),
        ("service/queries/x.py", "from service.web import schemas\n", ["service.web.schemas"]),
        ("service/queries/x.py", "import service.web\n", ["service.web"]),
        ("service/webhooks.py", "from service.webhooks import sign\n", []),
        ("service/web/x.py", "from service.web.schemas import Forecast\n", []),
        ("service/cli/x.py", "from service.web.app import create_app\n", []),
        ("domain/x.py", "import numpy\nfrom domain.events import A\n", []),
    ],
)
def test_the_check_finds_an_upward_import(
    tmp_path: Path, path: str, source: str, expected: list[str]
) -> None:
    file = tmp_path / path
    file.parent.mkdir(parents=True)
    file.write_text(source)
    assert violations(tmp_path) == sorted(f"{path} imports {module}" for module in expected)
