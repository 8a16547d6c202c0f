"""OpenAPI: litestar writes the document; here the tagged unions get their discriminator,
``int | float`` unions become one ``number``, and the bodies we decode get msgspec's
own schemas (litestar's drop ``additionalProperties: false`` and the bounds on list
items and map keys, so clients and the fuzz test would send what we reject)."""

import dataclasses
from typing import Any, get_args

import msgspec
from litestar import Litestar
from litestar.openapi.spec import Discriminator, OpenAPI, Parameter, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import ParameterKwarg
from litestar.routes import HTTPRoute

from domain.alerts import AlertDefinition
from domain.backtests import BacktestRequest
from domain.events import KIND_TYPES, LOGGED_TYPES, EventBatch, WorldEvent
from domain.matching import Operator
from domain.scenarios import Resolution, Retraction, ScenarioDefinition

BODY_TYPES: tuple[Any, ...] = (
    WorldEvent,
    EventBatch,
    ScenarioDefinition,
    Resolution,
    Retraction,
    BacktestRequest,
    AlertDefinition,
)
"""Every type a route decodes from a request body (``JSONBody[T]``)."""

_SCHEMA_FIELDS = (
    {  # JSON Schema keyword -> litestar's field (camelCase of its name)
        f.name.split("_")[0] + "".join(w.title() for w in f.name.split("_")[1:]): f.name
        for f in dataclasses.fields(Schema)
        if f.init
    }
    | {"not": "schema_not", "if": "schema_if", "else": "schema_else"}
)
_SUBSCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SUBSCHEMAS = {"items", "not", "propertyNames", "contains", "additionalProperties"}

_TAGS: dict[str, str] = {t.__name__: kind for kind, t in KIND_TYPES.items()} | {
    t.__name__: kind for kind, t in LOGGED_TYPES.items()
}


def _discriminate(schema: Schema) -> None:
    refs = [r for r in schema.one_of or [] if isinstance(r, Reference)]
    if not refs or len(refs) != len(schema.one_of or []):
        return
    names = [r.ref.rsplit("/", 1)[-1] for r in refs]
    if all(n in _TAGS for n in names):
        schema.discriminator = Discriminator(
            property_name="kind",
            mapping={_TAGS[n]: r.ref for n, r in zip(names, refs, strict=True)},
        )


def _one_number(schema: Schema) -> None:
    """litestar writes ``int | float`` as ``oneOf: [integer, number]``; every integer
    is a JSON Schema number too, so that ``oneOf`` rejected every integer. Keep the
    number alone (msgspec accepts either for ``int | float``)."""
    branches = schema.one_of or []
    plain = [b for b in branches if isinstance(b, Schema) and b == Schema(type=b.type)]
    types = {b.type for b in plain}
    if OpenAPIType.INTEGER in types and OpenAPIType.NUMBER in types:
        schema.one_of = [b for b in branches if b != Schema(type=OpenAPIType.INTEGER)]


def _walk(node: object, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, Schema):
        _discriminate(node)
        _one_number(node)
    if isinstance(node, dict):
        for value in node.values():
            _walk(value, seen)
    elif isinstance(node, list | tuple):
        for value in node:
            _walk(value, seen)
    elif hasattr(node, "__dataclass_fields__"):
        for name in node.__dataclass_fields__:
            _walk(getattr(node, name), seen)


def _schema(node: dict[str, Any]) -> Schema | Reference:
    """A JSON Schema (as msgspec writes it) as litestar's spec objects."""
    if "$ref" in node:
        return Reference(ref=node["$ref"])
    values: dict[str, Any] = {}
    for key, value in node.items():
        converted: Any = value
        if key in _SUBSCHEMA_LISTS:
            converted = [_schema(v) for v in value]
        elif key in _SUBSCHEMAS and isinstance(value, dict):
            converted = _schema(value)
        elif key == "properties":
            converted = {name: _schema(v) for name, v in value.items()}
        elif key == "type":
            converted = OpenAPIType(value)
        elif key == "format":
            converted = OpenAPIFormat(value)
        elif key == "discriminator":
            converted = Discriminator(property_name=value["propertyName"], mapping=value["mapping"])
        values[_SCHEMA_FIELDS[key]] = converted
    return Schema(**values)


def _name_operators(components: dict[str, Any]) -> None:
    """msgspec writes no ``propertyNames`` for a dict keyed by a ``Literal``: a match
    condition object takes exactly one of the operators (``domain.matching``)."""
    where = components.get("Match", {}).get("properties", {}).get("where", {})
    for branch in where.get("additionalProperties", {}).get("anyOf", []):
        if branch.get("type") == "object":
            branch["propertyNames"] = {"enum": list(get_args(Operator))}
            branch["minProperties"] = branch["maxProperties"] = 1


def _body_schemas(document: OpenAPI) -> None:
    _, components = msgspec.json.schema_components(
        BODY_TYPES, ref_template="#/components/schemas/{name}"
    )
    _name_operators(components)
    schemas = document.components.schemas
    for name, component in components.items():
        schemas[name] = _schema(component)  # type: ignore[assignment]


def add_discriminators(document: OpenAPI) -> None:
    """Give every ``oneOf`` over event kinds a ``discriminator`` on ``kind``, and
    make each ``oneOf`` over ``integer`` and ``number`` a ``oneOf`` with ``number``;
    the components of request bodies are msgspec's schemas of them."""
    _body_schemas(document)
    _walk(document, set())


_BOUNDS = {  # litestar's parameter bounds -> litestar's Schema fields
    "ge": "minimum",
    "gt": "exclusive_minimum",
    "le": "maximum",
    "lt": "exclusive_maximum",
    "min_length": "min_length",
    "max_length": "max_length",
    "pattern": "pattern",
}


def _add_bounds(parameter: Parameter, kwarg: ParameterKwarg) -> None:
    schema = parameter.schema
    if not isinstance(schema, Schema) or not schema.one_of:
        return
    for branch in schema.one_of:
        if not isinstance(branch, Schema) or branch.type == OpenAPIType.NULL:
            continue
        for bound, field_name in _BOUNDS.items():
            if getattr(kwarg, bound, None) is not None and getattr(branch, field_name) is None:
                setattr(branch, field_name, getattr(kwarg, bound))


def optional_parameters(app: Litestar) -> None:
    """litestar writes a ``T | None`` parameter as ``oneOf: [T, null]`` (it reads the
    value ``null`` as absent) and drops its bounds (``ge=0``): put them on ``T``."""
    paths = app.openapi_schema.paths or {}
    for route in app.routes:
        item = paths.get(route.path_format)
        if not isinstance(route, HTTPRoute) or item is None:
            continue
        for handler in route.route_handlers:
            kwargs = {
                (k.header or k.query or k.cookie or k.name or name).lower(): k
                for name, field in handler.parsed_fn_signature.parameters.items()
                if isinstance(k := field.kwarg_definition, ParameterKwarg)
            }
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                for parameter in (operation.parameters or []) if operation else []:
                    kwarg = (
                        kwargs.get(parameter.name.lower())
                        if isinstance(parameter, Parameter)
                        else None
                    )
                    if kwarg is not None and isinstance(parameter, Parameter):
                        _add_bounds(parameter, kwarg)
