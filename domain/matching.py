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

import math
import operator
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


def _getter(field: str) -> Callable[[BaseEvent], Any]:
    """Reads what a condition on ``field`` looks at (``field_value``, specialised)."""
    if field == "source.name" or field.startswith("attributes."):
        return lambda event: field_value(event, field)
    return operator.attrgetter(field)


def _shared_spec(kinds: list[str], field: str) -> FieldSpec | None:
    """The field's spec when every listed kind has the same one."""
    specs = {field_spec(kind, field) for kind in kinds}
    return specs.pop() if len(specs) == 1 else None


_TYPE_CHECKS: dict[ValueType, Callable[[Any], bool]] = {
    "text": lambda a: isinstance(a, str),
    "number": _is_number,
    "bool": lambda a: isinstance(a, bool),
    "time": lambda a: isinstance(a, datetime),
}


def _holds_one_of(spec: FieldSpec, args: list[Any]) -> Callable[[Any], bool]:
    """The value (or, for a list field, one of its items) equals one of ``args``."""
    members = frozenset(args)
    if spec.is_list:
        return lambda v: v is not None and not members.isdisjoint(v)
    if len(args) == 1:
        (only,) = args
        return lambda v: v == only
    return lambda v: v in members


def _typed_test(spec: FieldSpec | None, op: str, arg: Any) -> Callable[[Any], bool] | None:
    """The condition as a direct comparison, for a typed field whose values have
    the field's type (what ``validate_match`` lets through); None otherwise.
    Same answers as ``_test``: the event's value is of the field's type or None."""
    if spec is None or spec.type == "any":
        return None
    fits = _TYPE_CHECKS[spec.type]
    args = arg if isinstance(arg, list) else [arg]
    if not args or not all(fits(a) for a in args) or isinstance(arg, list) != (op in _LISTY):
        return None
    if op in ("eq", "ne", "in", "nin") or (op == "contains" and spec.is_list):
        held = _holds_one_of(spec, args)
        return (lambda v: not held(v)) if op in ("ne", "nin") else held
    if op == "contains" and spec.type == "text":
        needle = arg.casefold()
        return lambda v: v is not None and needle in v.casefold()
    if op in _ORDERED and not spec.is_list and spec.type in ("number", "time"):
        compare = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}[op]
        return lambda v: v is not None and compare(v, arg)
    return None


def compile_match(match: Match) -> Predicate:
    """A predicate for a validated ``match``: cheap to call once per event."""
    kind_list = match.kinds()
    kinds = frozenset(kind_list)
    tests: list[tuple[Callable[[BaseEvent], Any], Callable[[Any], bool]]] = []
    for field, condition in match.where.items():
        op, arg = _operator(condition)
        arg = _prepared(field, kind_list, arg)
        typed = _typed_test(_shared_spec(kind_list, field), op, arg)
        tests.append((_getter(field), typed or _test(op, arg)))

    if len(tests) == 1:
        ((get, test),) = tests

        def one_condition(event: BaseEvent) -> bool:
            return event.__struct_config__.tag in kinds and test(get(event))

        return one_condition

    def predicate(event: BaseEvent) -> bool:
        if event.__struct_config__.tag not in kinds:
            return False
        for get, test in tests:  # noqa: SIM110 - a loop, not all() over a generator: hot path
            if not test(get(event)):
                return False
        return True

    return predicate


def _selectivity(spec: FieldSpec) -> float:
    """How many values a field can take (free text and numbers: unbounded)."""
    if spec.type == "bool":
        return 2
    return math.inf if spec.allowed is None else len(spec.allowed)


def _index_field(match: Match) -> tuple[str, FieldSpec, list[Any]] | None:
    """The equality (or ``in``) condition to file ``match`` under: a typed, non-time
    field every listed kind shares, one of whose values an event must hold; the one
    with the most possible values when there are several."""
    kinds = match.kinds()
    best: tuple[str, FieldSpec, list[Any]] | None = None
    for field, condition in match.where.items():
        op, arg = _operator(condition)
        spec = _shared_spec(kinds, field)
        if op not in ("eq", "in") or spec is None or spec.type in ("any", "time"):
            continue
        values = arg if isinstance(arg, list) else [arg]
        if best is None or _selectivity(spec) > _selectivity(best[1]):
            best = (field, spec, values)
    return best


class _Group(Generic[K]):
    """The rules that share one match: tested once per event."""

    __slots__ = ("filed", "keys", "predicate")

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate
        self.keys: dict[K, None] = {}
        self.filed: list[tuple[str, str | None, Any]] = []


class _FieldIndex(Generic[K]):
    """The groups filed under one field of one kind, by value."""

    __slots__ = ("by_value", "get", "is_list")

    def __init__(self, field: str, is_list: bool) -> None:
        self.get = _getter(field)
        self.is_list = is_list
        self.by_value: dict[Any, list[_Group[K]]] = {}

    def candidates(self, event: BaseEvent) -> list[_Group[K]]:
        value = self.get(event)
        if value is None:
            return []
        if not self.is_list:
            return self.by_value.get(value, [])
        found: dict[int, _Group[K]] = {}
        for item in value:
            for group in self.by_value.get(item, ()):
                found[id(group)] = group
        return list(found.values())


class RuleIndex(Generic[K]):
    """Which rules an event matches, without testing every rule.

    Rules with the same match form one group whose predicate is tested once per
    event. A group with an equality (or ``in``) condition is filed under its
    kinds, that field and those values, so an event is tested only against the
    groups one of whose values it holds; other groups are tested against every
    event of their kinds.
    """

    def __init__(self) -> None:
        self._groups: dict[bytes, _Group[K]] = {}
        self._group_of: dict[K, bytes] = {}
        self._unkeyed: dict[str, list[_Group[K]]] = {}
        self._keyed: dict[str, dict[str, _FieldIndex[K]]] = {}

    def add(self, key: K, match: Match) -> None:
        canonical = msgspec.json.encode(match, order="sorted")
        group = self._groups.get(canonical)
        if group is None:
            group = self._groups[canonical] = _Group(compile_match(match))
            self._file(group, match)
        group.keys[key] = None
        self._group_of[key] = canonical

    def _file(self, group: _Group[K], match: Match) -> None:
        indexed = _index_field(match)
        for kind in match.kinds():
            if indexed is None:
                self._unkeyed.setdefault(kind, []).append(group)
                group.filed.append((kind, None, None))
                continue
            field, spec, values = indexed
            fields = self._keyed.setdefault(kind, {})
            index = fields.get(field)
            if index is None:
                index = fields[field] = _FieldIndex(field, spec.is_list)
            for value in dict.fromkeys(values):  # once each: equal values meet in one key
                index.by_value.setdefault(value, []).append(group)
                group.filed.append((kind, field, value))

    def remove(self, key: K) -> None:
        canonical = self._group_of.pop(key, None)
        if canonical is None:
            return
        group = self._groups[canonical]
        del group.keys[key]
        if group.keys:
            return
        del self._groups[canonical]
        for kind, field, value in group.filed:
            if field is None:
                self._unkeyed[kind].remove(group)
            else:
                self._keyed[kind][field].by_value[value].remove(group)

    def matching(self, event: BaseEvent) -> list[K]:
        """The keys of every rule whose match holds for ``event``."""
        kind = event.__struct_config__.tag
        found: list[K] = []
        if not isinstance(kind, str):
            return found
        for group in self._unkeyed.get(kind, ()):
            if group.predicate(event):
                found.extend(group.keys)
        for index in self._keyed.get(kind, {}).values():
            for group in index.candidates(event):
                if group.predicate(event):
                    found.extend(group.keys)
        return found
