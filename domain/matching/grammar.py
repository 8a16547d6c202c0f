"""The match grammar: the ``Match`` struct, the catalogue of matchable fields (read
from the event structs) and ``validate_match``, which says what a match gets wrong."""

import re
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from msgspec import Struct

from domain.errors import FieldError
from domain.events import ATTRIBUTE_NAME_PATTERN, KIND_TYPES, BaseEvent, EventKind
from domain.suggestions import no_such_field, one_of

Operator = Literal["eq", "ne", "in", "nin", "lt", "le", "gt", "ge", "contains"]
Scalar = str | int | float | bool
Condition = Scalar | dict[Operator, Scalar | list[Scalar]]
ValueType = Literal["text", "number", "bool", "time", "any"]

ORDERED = frozenset({"lt", "le", "gt", "ge"})
LISTY = frozenset({"in", "nin"})


class Match(Struct, forbid_unknown_fields=True, omit_defaults=True):
    kind: EventKind | list[EventKind]
    where: dict[str, Condition] = {}

    def kinds(self) -> list[str]:
        return [self.kind] if isinstance(self.kind, str) else list(self.kind)


class FieldSpec(Struct, frozen=True):
    """What a matchable field holds: its value type, whether it is a list, and
    (for enums and country codes) the values it can take."""

    type: ValueType
    is_list: bool = False
    allowed: frozenset[str] | None = None


def _spec_of(t: msgspec.inspect.Type) -> FieldSpec | None:
    if isinstance(t, msgspec.inspect.Metadata):
        return _spec_of(t.type)
    if isinstance(t, msgspec.inspect.UnionType):
        inner = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        return _spec_of(inner[0]) if len(inner) == 1 else None
    if isinstance(t, msgspec.inspect.ListType):
        item = _spec_of(t.item_type)
        return None if item is None else FieldSpec(item.type, True, item.allowed)
    if isinstance(t, msgspec.inspect.LiteralType):
        return FieldSpec("text", allowed=frozenset(str(v) for v in t.values))
    simple: dict[type, ValueType] = {
        msgspec.inspect.StrType: "text",
        msgspec.inspect.FloatType: "number",
        msgspec.inspect.IntType: "number",
        msgspec.inspect.BoolType: "bool",
        msgspec.inspect.DateTimeType: "time",
    }
    value_type = simple.get(type(t))
    return None if value_type is None else FieldSpec(value_type)


def _catalogue() -> dict[str, dict[str, FieldSpec]]:
    catalogue: dict[str, dict[str, FieldSpec]] = {}
    for kind, event_type in KIND_TYPES.items():
        info = msgspec.inspect.type_info(event_type)
        if not isinstance(info, msgspec.inspect.StructType):
            msg = f"{event_type} is not a struct"
            raise TypeError(msg)
        fields: dict[str, FieldSpec] = {"source.name": FieldSpec("text")}
        for field in info.fields:
            spec = _spec_of(field.type)
            if spec is not None and field.name != "event_id":
                fields[field.name] = spec
        catalogue[kind] = fields
    return catalogue


FIELDS: dict[str, dict[str, FieldSpec]] = _catalogue()
ANY_FIELD = FieldSpec("any")
_BASE_FIELDS = frozenset(f.name for f in msgspec.structs.fields(BaseEvent)) | {"source.name"}


def fields_of(kind: str) -> list[str]:
    """The fields a condition on ``kind`` can name, the kind's own first (for messages)."""
    names = list(FIELDS[kind])
    own = [n for n in names if n not in _BASE_FIELDS]
    extra = ["attributes.NAME"] if kind == "signal" else []
    return [*own, *extra, *(n for n in names if n in _BASE_FIELDS)]


def field_spec(kind: str, field: str) -> FieldSpec | None:
    """The spec of ``field`` in ``kind``, or None if that kind has no such field."""
    if kind == "signal" and field.startswith("attributes."):
        name = field[len("attributes.") :]
        return ANY_FIELD if re.search(ATTRIBUTE_NAME_PATTERN, name) else None
    return FIELDS[kind].get(field)


def shared_spec(kinds: list[str], field: str) -> FieldSpec | None:
    """The field's spec when every listed kind has the same one."""
    specs = {field_spec(kind, field) for kind in kinds}
    return specs.pop() if len(specs) == 1 else None


def field_value(event: BaseEvent, field: str) -> Any:
    """The value a condition on ``field`` looks at; None when the event lacks it."""
    if field == "source.name":
        return event.source.name if event.source is not None else None
    if field.startswith("attributes."):
        attributes: dict[str, Any] = getattr(event, "attributes", {})
        return attributes.get(field[len("attributes.") :])
    return getattr(event, field, None)


def operator_and_argument(condition: Condition) -> tuple[str, Any]:
    """A condition as (operator, argument): a bare scalar means ``eq``."""
    if isinstance(condition, dict):
        ((op, arg),) = condition.items()
        return op, arg
    return "eq", condition


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_time(text: str) -> datetime | None:
    """RFC 3339 with an offset (msgspec's parser, as for event times), in UTC."""
    try:
        parsed = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _value_errors(spec: FieldSpec, op: str, arg: Any, path: str) -> list[FieldError]:
    if op in LISTY:
        if not isinstance(arg, list) or not arg:
            return [FieldError(path, f"`{op}` takes a non-empty list")]
        return [e for item in arg for e in _value_errors(spec, "eq", item, path)]
    if isinstance(arg, list):
        return [FieldError(path, f"`{op}` takes a single value, not a list")]
    if op in ORDERED and (spec.is_list or spec.type not in ("number", "time", "any")):
        return [FieldError(path, f"`{op}` applies to numbers and times only")]
    if op in ORDERED and spec.type == "any" and not is_number(arg):
        return [FieldError(path, f"`{op}` on an attribute compares numbers only")]
    if op == "contains" and not spec.is_list and spec.type not in ("text", "any"):
        return [FieldError(path, "`contains` applies to text and list fields only")]
    if spec.type == "any":
        return []
    if spec.type == "number" and not is_number(arg):
        return [FieldError(path, "expects a number")]
    if spec.type == "bool" and not isinstance(arg, bool):
        return [FieldError(path, "expects true or false")]
    if spec.type in ("text", "time") and not isinstance(arg, str):
        return [FieldError(path, "expects a string")]
    if spec.type == "time" and parse_time(arg) is None:
        return [FieldError(path, "expects an RFC 3339 time with an offset")]
    if spec.allowed is not None and (op != "contains" or spec.is_list) and arg not in spec.allowed:
        field = path.rsplit(".where.", 1)[-1]
        return [FieldError(path, one_of(f"`{field}`", spec.allowed, arg))]
    return []


def missing_field(kinds: list[str], field: str) -> str:
    """Why ``field`` cannot be named for ``kinds``: which kind lacks it, the closest
    field and the fields it could name (every listed kind must have the field)."""
    if len(kinds) == 1:
        return no_such_field(
            f"kind `{kinds[0]}` has no field `{field}`", field, fields_of(kinds[0])
        )
    lacking = [k for k in kinds if field_spec(k, field) is None]
    having = [k for k in kinds if k not in lacking]
    shared = [f for f in fields_of(kinds[0]) if all(field_spec(k, f) for k in kinds[1:])]
    if having:
        named = ", ".join(f"`{k}`" for k in lacking)
        has = ", ".join(f"`{k}`" for k in having)
        head = (
            f"{'kinds' if len(lacking) > 1 else 'kind'} {named} "
            f"{'have' if len(lacking) > 1 else 'has'} no field `{field}` ({has} "
            f"{'have' if len(having) > 1 else 'has'} it, but a condition's field must be in "
            "every listed kind)"
        )
    else:
        head = f"none of the listed kinds has a field `{field}`"
    return no_such_field(head, field, shared, "Fields every listed kind has")


def validate_match(match: Match, path: str) -> list[FieldError]:
    """Every problem with ``match``: fields missing from a listed kind, operators
    that do not apply to the field, and values the field can never hold."""
    errors: list[FieldError] = []
    kinds = match.kinds()
    if not kinds:
        errors.append(FieldError(f"{path}.kind", "lists no kind"))
    for field, condition in match.where.items():
        at = f"{path}.where.{field}"
        if isinstance(condition, dict) and len(condition) != 1:
            errors.append(FieldError(at, "a condition object has exactly one operator"))
            continue
        op, arg = operator_and_argument(condition)
        for kind in kinds:
            spec = field_spec(kind, field)
            if spec is None:
                errors.append(FieldError(at, missing_field(kinds, field)))
                break
            found = _value_errors(spec, op, arg, at)
            if found:
                errors.extend(found)
                break
    return errors
