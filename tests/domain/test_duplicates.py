"""Which world events look alike: same kind, occurred within a day, same identifying
fields (text without case and surrounding space, lists in any order)."""

from datetime import timedelta
from typing import Any

import msgspec
import pytest
from msgspec import inspect as mi

from domain.duplicates import IDENTIFYING_FIELDS, WINDOW, looks_alike
from domain.events import KIND_TYPES, BaseEvent, WorldEvent
from tests.domain.test_events import KINDS, full, struct_info


def decode(body: dict[str, Any]) -> BaseEvent:
    return msgspec.convert(body, WorldEvent)  # type: ignore[arg-type,no-any-return]


def another_value(field: mi.Field, value: Any) -> Any:
    """A valid value of ``field`` other than ``value``."""
    info = field.type
    if isinstance(info, mi.UnionType):  # Optional[...]
        info = next(t for t in info.types if not isinstance(t, mi.NoneType))
    if isinstance(info, mi.LiteralType):
        return next(v for v in info.values if v != value)
    if isinstance(info, mi.ListType):
        item = mi.Field(name="item", encode_name="item", type=info.item_type)
        return [another_value(item, value[0])]
    return f"{value} and more"


def test_every_kind_has_identifying_fields_it_really_has() -> None:
    assert set(IDENTIFYING_FIELDS) == set(KIND_TYPES)
    for kind, names in IDENTIFYING_FIELDS.items():
        assert names
        assert set(names) <= set(KIND_TYPES[kind].__struct_fields__), kind


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_report_with_other_words_and_amounts_looks_alike(kind: str) -> None:
    first = full(kind)
    second = {**full(kind), "summary": "Another outlet's account", "tags": [], "source": None}
    for name, value in (("value_usd", 1.0), ("share_pct", 1.0), ("conditions", "other")):
        if name in second:
            assert name not in IDENTIFYING_FIELDS[kind]
            second[name] = value
    assert looks_alike(decode(first), decode(second))


@pytest.mark.parametrize("kind", KINDS)
def test_each_identifying_field_tells_events_apart(kind: str) -> None:
    fields = {f.name: f for f in struct_info(kind).fields}
    for name in IDENTIFYING_FIELDS[kind]:
        changed = {**full(kind), name: another_value(fields[name], full(kind)[name])}
        assert not looks_alike(decode(full(kind)), decode(changed)), name


def test_text_compares_without_case_and_surrounding_space_lists_in_any_order() -> None:
    first = decode(full("joint_venture"))
    second = decode({**full("joint_venture"), "partners": ["  sony", "tsmc "]})
    assert looks_alike(first, second)
    third = decode({**full("joint_venture"), "partners": ["Sony", "TSMC", "Denso"]})
    assert not looks_alike(first, third)


def test_within_a_day_either_way_inclusive() -> None:
    first = decode(full("export_approval"))
    at = first.occurred_at
    for shift, alike in [
        (WINDOW, True),
        (-WINDOW, True),
        (WINDOW + timedelta(microseconds=1), False),
        (-WINDOW - timedelta(seconds=1), False),
    ]:
        other = msgspec.structs.replace(first, occurred_at=at + shift)
        assert looks_alike(first, other) is alike, shift


def test_kinds_with_the_same_fields_are_not_alike() -> None:
    approval = decode(full("export_approval"))
    restriction = decode({**full("export_approval"), "kind": "export_restriction"})
    assert not looks_alike(approval, restriction)
