"""A validated match compiled into a predicate: cheap to call once per event.

Conditions on typed fields become direct comparisons; the rest (signal
attributes, whose types are not known in advance) go through the general,
type-checking tests, so values of another type simply do not match."""

import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from domain.events import BaseEvent
from domain.matching.grammar import (
    ANY_FIELD,
    FIELDS,
    LISTY,
    ORDERED,
    FieldSpec,
    Match,
    ValueType,
    field_value,
    is_number,
    operator_and_argument,
    parse_time,
    shared_spec,
)

Predicate = Callable[[BaseEvent], bool]


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
    if all(FIELDS[k].get(field, ANY_FIELD).type == "time" for k in kinds):
        if isinstance(arg, list):
            return [parse_time(a) for a in arg]
        return parse_time(arg)
    return arg


def field_getter(field: str) -> Callable[[BaseEvent], Any]:
    """Reads what a condition on ``field`` looks at (``field_value``, specialised)."""
    if field == "source.name" or field.startswith("attributes."):
        return lambda event: field_value(event, field)
    return operator.attrgetter(field)


_TYPE_CHECKS: dict[ValueType, Callable[[Any], bool]] = {
    "text": lambda a: isinstance(a, str),
    "number": is_number,
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
    if not args or not all(fits(a) for a in args) or isinstance(arg, list) != (op in LISTY):
        return None
    if op in ("eq", "ne", "in", "nin") or (op == "contains" and spec.is_list):
        held = _holds_one_of(spec, args)
        return (lambda v: not held(v)) if op in ("ne", "nin") else held
    if op == "contains" and spec.type == "text":
        needle = arg.casefold()
        return lambda v: v is not None and needle in v.casefold()
    if op in ORDERED and not spec.is_list and spec.type in ("number", "time"):
        compare = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}[op]
        return lambda v: v is not None and compare(v, arg)
    return None


def compile_match(match: Match) -> Predicate:
    """A predicate for a validated ``match``: cheap to call once per event."""
    kind_list = match.kinds()
    kinds = frozenset(kind_list)
    tests: list[tuple[Callable[[BaseEvent], Any], Callable[[Any], bool]]] = []
    for field, condition in match.where.items():
        op, arg = operator_and_argument(condition)
        arg = _prepared(field, kind_list, arg)
        typed = _typed_test(shared_spec(kind_list, field), op, arg)
        tests.append((field_getter(field), typed or _test(op, arg)))

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
