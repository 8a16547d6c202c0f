"""Scenario definitions as files: one scenario per YAML or JSON file, the body of
``PUT /v1/scenarios/{id}`` plus its ``id``.

A file is read into plain JSON values first and then decoded exactly as the PUT
decodes its body (strictly, into ``ScenarioDefinition``), so a file is wrong
where a request would be and the messages are the PUT's (``domain.body_errors``).

YAML is read with a ``yaml.SafeLoader`` (plain values only) that differs from
``yaml.safe_load`` in two ways: a key repeated in one mapping is an error (as in
a PUT body: which value counts would otherwise be a guess), and numbers in
exponent form without a dot (``1e-6``, ``2E3``), which PyYAML's YAML 1.1 rules
read as strings, are numbers, as in JSON and YAML 1.2: Bayes factors are
often written so.
"""

import json
import re
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from domain.body_errors import body_errors
from domain.errors import FieldError
from domain.scenarios import ScenarioDefinition, Slug

SUFFIXES = (".json", ".yaml", ".yml")
Format = Literal["yaml", "json"]
WHOLE_FILE = "(file)"


class InvalidFile(Exception):
    """A scenario file that cannot be applied: its path and the problems, by field."""

    def __init__(self, path: Path, errors: list[FieldError]) -> None:
        super().__init__(f"{path}: " + "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.path = path
        self.errors = errors


@dataclass(frozen=True)
class ScenarioFile:
    path: Path
    id: str
    definition: ScenarioDefinition


class _Id(msgspec.Struct):
    id: Slug


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with unique keys and JSON's exponent numbers (module docstring)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                msg = f"the key `{key}` is repeated in one mapping"
                raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def scenario_paths(target: Path) -> list[Path]:
    """``target`` itself, or every scenario file directly in the directory ``target``
    (sorted by name; subdirectories are not read)."""
    if not target.is_dir():
        return [target]
    return sorted(p for p in target.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def read_scenario_file(path: Path) -> ScenarioFile:
    """The file's scenario; ``InvalidFile`` naming every problem found."""
    raw = _plain(path, _parse(path))
    if not isinstance(raw, dict):
        what = "a mapping" if path.suffix.lower() != ".json" else "an object"
        msg = f"must be {what} of the scenario's fields and its `id`; got {_kind(raw)}"
        raise InvalidFile(path, [FieldError(WHOLE_FILE, msg)])
    errors = _id_errors(raw)
    body = {name: value for name, value in raw.items() if name != "id"}
    try:
        definition = msgspec.json.decode(msgspec.json.encode(body), type=ScenarioDefinition)
    except msgspec.ValidationError as e:
        errors.extend(_in_file(body_errors(ScenarioDefinition, body, str(e))))
    if errors:
        raise InvalidFile(path, errors)
    return ScenarioFile(path, raw["id"], definition)


def scenario_text(slug: str, definition: ScenarioDefinition, form: Format) -> str:
    """The file ``apply`` reads back as this definition: ``id`` first, then the
    fields that differ from their defaults, in the PUT body's order."""
    data = {"id": slug, **msgspec.to_builtins(definition)}
    if form == "json":
        return msgspec.json.format(msgspec.json.encode(data)).decode() + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=78)


def _parse(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidFile(path, [FieldError(WHOLE_FILE, f"cannot be read: {e}")]) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
        return yaml.load(text, Loader=_Loader)
    except ValueError as e:
        raise InvalidFile(path, [FieldError(WHOLE_FILE, f"is not valid JSON: {e}")]) from None
    except yaml.YAMLError as e:
        raise InvalidFile(
            path, [FieldError(WHOLE_FILE, f"is not valid YAML: {_yaml_problem(e)}")]
        ) from None


def _yaml_problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error)
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return str(problem)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def _plain(path: Path, parsed: object) -> object:
    """The parsed file as JSON would hold it (YAML's times become RFC 3339 strings,
    which the definition then reads as a PUT body's)."""
    try:
        return msgspec.json.decode(msgspec.json.encode(parsed))
    except (TypeError, msgspec.EncodeError) as e:
        msg = f"holds a value JSON cannot carry ({e}): use strings for keys and dates"
        raise InvalidFile(path, [FieldError(WHOLE_FILE, msg)]) from None


def _id_errors(raw: dict[str, Any]) -> list[FieldError]:
    only = {"id": raw["id"]} if "id" in raw else {}
    try:
        msgspec.convert(only, _Id, strict=True)
    except msgspec.ValidationError as e:
        return _in_file(body_errors(_Id, only, str(e)))
    return []


def _in_file(errors: list[FieldError]) -> list[FieldError]:
    """The PUT's messages, about the file (they say "the body")."""
    return [FieldError(e.field, e.message.replace("the body", "the file")) for e in errors]


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        keys = [key for key, _ in pairs]
        repeated = next(key for key in found if keys.count(key) > 1)
        msg = f"the key `{repeated}` is repeated in one object"
        raise ValueError(msg)
    return found


def _no_constant(name: str) -> float:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def _kind(value: object) -> str:
    names = {list: "a list", str: "a string", type(None): "nothing (an empty file?)"}
    return names.get(type(value), type(value).__name__)
