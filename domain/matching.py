"""Which events a rule counts: the match grammar of the API contract.

``match = {"kind": k or [k...], "where": {field: condition}}``. A condition is a
scalar (equality; on a list field, membership) or an object with exactly one
operator: ``eq ne in nin lt le gt ge contains``.

Semantics chosen where the contract is silent (documented in the README):
- ``contains`` on a text field is a case-insensitive substring test; on a list
  field it is membership.
- ``lt le gt ge`` apply to numbers and times only.
- A field an event lacks (an optional field left out, or a signal attribute it
  does not carry) satisfies only ``ne`` and ``nin``.
- ``attributes.NAME`` reaches a signal's attributes; their types are not known
  in advance, so values of another type simply do not match.

The field catalogue is read from the msgspec event structs, so a field added to
a kind is matchable without touching this module.
"""

import re
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Struct

from domain.errors import FieldError
from domain.events import ATTRIBUTE_NAME_PATTERN, KIND_TYPES, BaseEvent, EventKind

Operator = Literal["eq", "ne", "in", "nin", "lt", "le", "gt", "ge", "contains"]
Scalar = str | int | float | bool
Condition = Scalar | dict[Operator, Scalar | list[Scalar]]
ValueType = Literal["text", "number", "bool", "time", "any"]

_ORDERED = frozenset({"lt", "le", "gt", "ge"})
_LISTY = frozenset({"in", "nin"})


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


Predicate = Callable[[BaseEvent], bool]
K = TypeVar("K", bound=Hashable)


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
_ANY = FieldSpec("any")


def field_spec(kind: str, field: str) -> FieldSpec | None:
    """The spec of ``field`` in ``kind``, or None if that kind has no such field."""
    if kind == "signal" and field.startswith("attributes."):
        name = field[len("attributes.") :]
        return _ANY if re.search(ATTRIBUTE_NAME_PATTERN, name) else None
    return FIELDS[kind].get(field)


def field_value(event: BaseEvent, field: str) -> Any:
    """The value a condition on ``field`` looks at; None when the event lacks it."""
    if field == "source.name":
        return event.source.name if event.source is not None else None
    if field.startswith("attributes."):
        attributes: dict[str, Any] = getattr(event, "attributes", {})
        return attributes.get(field[len("attributes.") :])
    return getattr(event, field, None)


def _operator(condition: Condition) -> tuple[str, Any]:
    if isinstance(condition, dict):
        ((op, arg),) = condition.items()
        return op, arg
    return "eq", condition


def _value_errors(spec: FieldSpec, op: str, arg: Any, path: str) -> list[FieldError]:
    if op in _LISTY:
        if not isinstance(arg, list) or not arg:
            return [FieldError(path, f"`{op}` takes a non-empty list")]
        return [e for item in arg for e in _value_errors(spec, "eq", item, path)]
    if isinstance(arg, list):
        return [FieldError(path, f"`{op}` takes a single value, not a list")]
    if op in _ORDERED and (spec.is_list or spec.type not in ("number", "time", "any")):
        return [FieldError(path, f"`{op}` applies to numbers and times only")]
    if op in _ORDERED and spec.type == "any" and not _is_number(arg):
        return [FieldError(path, f"`{op}` on an attribute compares numbers only")]
    if op == "contains" and not spec.is_list and spec.type not in ("text", "any"):
        return [FieldError(path, "`contains` applies to text and list fields only")]
    if spec.type == "any":
        return []
    if spec.type == "number" and not _is_number(arg):
        return [FieldError(path, "expects a number")]
    if spec.type == "bool" and not isinstance(arg, bool):
        return [FieldError(path, "expects true or false")]
    if spec.type in ("text", "time") and not isinstance(arg, str):
        return [FieldError(path, "expects a string")]
    if spec.type == "time" and _parse_time(arg) is None:
        return [FieldError(path, "expects an RFC 3339 time with an offset")]
    if spec.allowed is not None and (op != "contains" or spec.is_list) and arg not in spec.allowed:
        return [FieldError(path, f"{arg!r} is not a value this field can take")]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
        op, arg = _operator(condition)
        for kind in kinds:
            spec = field_spec(kind, field)
            if spec is None:
                errors.append(FieldError(at, f"kind `{kind}` has no field `{field}`"))
                break
            found = _value_errors(spec, op, arg, at)
            if found:
                errors.extend(found)
                break
    return errors


def _parse_time(text: str) -> datetime | None:
    """RFC 3339 with an offset (msgspec's parser, as for event times), in UTC."""
    try:
        parsed = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _comparable(a: Any, b: Any) -> bool:
    """True when a and b are of one value type (bool is not a number here)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return True
    return type(a) is type(b)


def _equals(value: Any, arg: Any) -> bool:
    if isinstance(value, list):
        return any(_comparable(v, arg) and v == arg for v in value)
    return value is not None and _comparable(value, arg) and bool(value == arg)


def _in(value: Any, args: Sequence[Any]) -> bool:
    return any(_equals(value, a) for a in args)


def _ordered(op: str, value: Any, arg: Any) -> bool:
    if value is None or isinstance(value, list) or not _comparable(value, arg):
        return False
    if op == "lt":
        return bool(value < arg)
    if op == "le":
        return bool(value <= arg)
    if op == "gt":
        return bool(value > arg)
    return bool(value >= arg)


def _contains(value: Any, arg: Any) -> bool:
    if isinstance(value, list):
        return _equals(value, arg)
    if isinstance(value, str) and isinstance(arg, str):
        return arg.casefold() in value.casefold()
    return False


def _test(op: str, arg: Any) -> Callable[[Any], bool]:
    if op == "eq":
        return lambda v: _equals(v, arg)
    if op == "ne":
        return lambda v: not _equals(v, arg)
    if op == "in":
        return lambda v: _in(v, arg)
    if op == "nin":
        return lambda v: not _in(v, arg)
    if op == "contains":
        return lambda v: _contains(v, arg)
    return lambda v: _ordered(op, v, arg)


def _prepared(field: str, kinds: list[str], arg: Any) -> Any:
    """Condition values on time fields are compared as times, not strings."""
    if all(FIELDS[k].get(field, _ANY).type == "time" for k in kinds):
        if isinstance(arg, list):
            return [_parse_time(a) for a in arg]
        return _parse_time(arg)
    return arg


def compile_match(match: Match) -> Predicate:
    """A predicate for a validated ``match``: cheap to call once per event."""
    kinds = frozenset(match.kinds())
    tests: list[tuple[str, Callable[[Any], bool]]] = []
    for field, condition in match.where.items():
        op, arg = _operator(condition)
        tests.append((field, _test(op, _prepared(field, list(kinds), arg))))

    def predicate(event: BaseEvent) -> bool:
        if event.__struct_config__.tag not in kinds:
            return False
        return all(test(field_value(event, field)) for field, test in tests)

    return predicate


def _index_key(value: Any) -> tuple[str, Any] | None:
    """A hashable key under which equal values (in the matcher's sense) meet."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, str):
        return ("text", value)
    return None


def _equality_key(match: Match) -> tuple[str, list[tuple[str, Any]]] | None:
    """A field and the values one of which an event must hold for ``match`` to hold."""
    for field, condition in match.where.items():
        op, arg = _operator(condition)
        specs = [field_spec(kind, field) for kind in match.kinds()]
        if any(spec is None or spec.type == "time" for spec in specs):
            continue
        values = arg if op == "in" else [arg] if op == "eq" else None
        if values is None:
            continue
        keys = [_index_key(v) for v in values]
        if all(k is not None for k in keys):
            return field, [k for k in keys if k is not None]
    return None


class RuleIndex(Generic[K]):
    """Finds the rules an event may match without testing every rule.

    A rule with an equality (or ``in``) condition is filed under its kinds, that
    field and those values; an event meets it only if it holds such a value.
    Other rules are filed under their kinds alone. The candidates still have to
    pass the rule's full predicate.
    """

    def __init__(self) -> None:
        self._keyed: dict[str, dict[str, dict[tuple[str, Any], set[K]]]] = {}
        self._unkeyed: dict[str, set[K]] = {}
        self._filed: dict[K, list[tuple[str, str | None, tuple[str, Any] | None]]] = {}

    def add(self, key: K, match: Match) -> None:
        filed: list[tuple[str, str | None, tuple[str, Any] | None]] = []
        equality = _equality_key(match)
        for kind in match.kinds():
            if equality is None:
                self._unkeyed.setdefault(kind, set()).add(key)
                filed.append((kind, None, None))
                continue
            field, values = equality
            by_value = self._keyed.setdefault(kind, {}).setdefault(field, {})
            for value in values:
                by_value.setdefault(value, set()).add(key)
                filed.append((kind, field, value))
        self._filed[key] = filed

    def remove(self, key: K) -> None:
        for kind, field, value in self._filed.pop(key, []):
            if field is None:
                self._unkeyed[kind].discard(key)
            else:
                self._keyed[kind][field][value].discard(key)  # type: ignore[index]

    def candidates(self, event: BaseEvent) -> set[K]:
        kind = event.__struct_config__.tag
        if not isinstance(kind, str):
            return set()
        found = set(self._unkeyed.get(kind, ()))
        for field, by_value in self._keyed.get(kind, {}).items():
            value = field_value(event, field)
            for item in value if isinstance(value, list) else [value]:
                key = _index_key(item)
                if key is not None:
                    found |= by_value.get(key, set())
        return found
