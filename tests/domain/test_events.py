"""The world events: decoding, round-tripping and every bound of the contract.

The lists of fields under test are read from the msgspec structs (``msgspec.inspect``),
so a field added to a kind is covered by the generic tests without editing them.
"""

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from msgspec import inspect as mi

from domain.countries import COUNTRIES
from domain.events import (
    EVENT_TYPES,
    KIND_TYPES,
    EventBatch,
    Signal,
    TariffChange,
    WorldEvent,
    kind_of,
    tariff_direction,
)

Body = dict[str, Any]


# ---------------------------------------------------------------------------
# Valid examples: every field of every kind, optional ones included.
# ---------------------------------------------------------------------------

COMMON: Body = {
    "occurred_at": "2025-12-08T15:00:00-05:00",
    "summary": "Something happened in the world",
    "source": {"name": "Asia Times", "url": "https://asiatimes.com/"},
    "event_id": "4f0b1a62-8a4f-4c39-9a53-5d7a4bbd2f10",
    "tags": ["nvidia", "h200"],
}

_EXPORT_DECISION: Body = {
    "authority": "US Commerce (BIS)",
    "category": "ai_chip",
    "product": "H200",
    "destination": "CN",
    "conditions": "25% of revenue to the US government",
}

OWN_FIELDS: dict[str, Body] = {
    "export_approval": _EXPORT_DECISION,
    "export_restriction": _EXPORT_DECISION,
    "purchase_ban": {
        "authority": "CAC",
        "target_company": "Nvidia",
        "product": "RTX Pro 6000D",
        "scope": "formal",
    },
    "tariff_change": {
        "imposing": "US",
        "target": ["CN", "HK"],
        "sector": "semiconductors",
        "rate_before_pct": 25,
        "rate_after_pct": 50.5,
        "status": "announced",
        "direction": "up",
    },
    "licensing_deal": {
        "licensor": "Arm",
        "licensee": "Alibaba",
        "licensor_country": "GB",
        "licensee_country": "CN",
        "sector": "chip design",
        "value_usd": 1.5e8,
    },
    "material_export_control": {
        "authority": "MOFCOM",
        "materials": ["gallium", "germanium"],
        "action": "impose",
        "destination": "US",
    },
    "joint_venture": {
        "partners": ["TSMC", "Sony"],
        "sector": "foundry",
        "location_country": "JP",
        "stage": "plant_opened",
        "value_usd": 8.6e9,
    },
    "negotiation": {
        "parties": ["US", "CN"],
        "venue": "Geneva",
        "stage": "talks",
    },
    "acquisition": {
        "acquirer": "Synopsys",
        "target": "Ansys",
        "target_origin_country": "US",
        "value_usd": 3.5e10,
        "status": "approved with conditions",
    },
    "regulatory_action": {
        "authority": "SAMR",
        "target_company": "Qualcomm",
        "action": "antitrust investigation opened",
    },
    "market_share_report": {
        "company": "Huawei",
        "market": "China AI accelerators",
        "share_pct": 23.5,
    },
    "signal": {
        "label": "rare earth prices",
        "attributes": {
            "text": "up",
            "count": 3,
            "ratio": 1.25,
            "confirmed": True,
            "regions": ["Jiangxi", "Inner Mongolia"],
        },
    },
}

KINDS = sorted(KIND_TYPES)


def struct_info(kind: str) -> mi.StructType:
    info = mi.type_info(KIND_TYPES[kind])
    assert isinstance(info, mi.StructType)
    return info


def full(kind: str) -> Body:
    """A valid example of ``kind`` with every field, optional ones included."""
    return {"kind": kind, **copy.deepcopy(COMMON), **copy.deepcopy(OWN_FIELDS[kind])}


def minimal(kind: str) -> Body:
    """A valid example of ``kind`` with its required fields only."""
    required = {f.name for f in struct_info(kind).fields if f.required}
    return {k: v for k, v in full(kind).items() if k == "kind" or k in required}


def decode(body: Any, type_: Any = WorldEvent) -> Any:
    return msgspec.json.decode(msgspec.json.encode(body), type=type_)


def rejection(body: Any, type_: Any = WorldEvent) -> str:
    with pytest.raises(msgspec.ValidationError) as caught:
        decode(body, type_)
    return str(caught.value)


# ---------------------------------------------------------------------------
# Field catalogue, read from the structs.
# ---------------------------------------------------------------------------


def unwrap(t: Any) -> Any:
    """The type under ``Metadata`` and ``X | None``."""
    while True:
        if isinstance(t, mi.Metadata):
            t = t.type
        elif isinstance(t, mi.UnionType):
            inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
            if len(inner) != 1:
                return t
            t = inner[0]
        else:
            return t


def element(t: Any) -> tuple[Any, bool]:
    """The unwrapped type of a field, or of its elements for a list; and whether a list."""
    t = unwrap(t)
    if isinstance(t, mi.ListType):
        return unwrap(t.item_type), True
    return t, False


def is_country(t: Any) -> bool:
    return isinstance(t, mi.LiteralType) and set(t.values) == COUNTRIES


def fields_where(predicate: Any) -> list[tuple[str, mi.Field]]:
    return [(k, f) for k in KINDS for f in struct_info(k).fields if predicate(f)]


def ids(cases: list[tuple[str, mi.Field]]) -> list[str]:
    return [f"{k}.{f.name}" for k, f in cases]


REQUIRED = fields_where(lambda f: f.required)
ALL_FIELDS = fields_where(lambda f: True)
ENUM_FIELDS = fields_where(
    lambda f: isinstance(element(f.type)[0], mi.LiteralType) and not is_country(element(f.type)[0])
)
COUNTRY_FIELDS = fields_where(lambda f: is_country(element(f.type)[0]))
BOUNDED_NUMBERS = fields_where(lambda f: isinstance(unwrap(f.type), mi.FloatType | mi.IntType))
BOUNDED_TEXT = fields_where(
    lambda f: isinstance(unwrap(f.type), mi.StrType) and unwrap(f.type).max_length is not None
)


def test_the_catalogue_covers_what_the_tests_rely_on() -> None:
    assert len(KINDS) == 12
    assert {f"{k}.{f.name}" for k, f in COUNTRY_FIELDS} >= {
        "tariff_change.imposing",
        "tariff_change.target",
        "export_approval.destination",
        "material_export_control.destination",
        "licensing_deal.licensee_country",
        "joint_venture.location_country",
        "acquisition.target_origin_country",
    }
    assert {f"{k}.{f.name}" for k, f in ENUM_FIELDS} >= {
        "export_approval.category",
        "export_restriction.category",
        "purchase_ban.scope",
        "tariff_change.status",
        "tariff_change.direction",
        "material_export_control.action",
        "joint_venture.stage",
        "negotiation.stage",
    }
    assert {f"{k}.{f.name}" for k, f in BOUNDED_NUMBERS} >= {
        "tariff_change.rate_before_pct",
        "tariff_change.rate_after_pct",
        "market_share_report.share_pct",
        "licensing_deal.value_usd",
        "joint_venture.value_usd",
        "acquisition.value_usd",
    }


def test_every_kind_has_an_example_with_every_field() -> None:
    for kind in KINDS:
        names = {f.name for f in struct_info(kind).fields}
        assert set(full(kind)) - {"kind"} == names, kind


# ---------------------------------------------------------------------------
# Valid events decode and round-trip.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("example", [full, minimal], ids=["full", "minimal"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_valid_event_decodes_to_its_kind(kind: str, example: Any) -> None:
    event = decode(example(kind))
    assert isinstance(event, KIND_TYPES[kind])
    assert kind_of(event) == kind


@pytest.mark.parametrize("example", [full, minimal], ids=["full", "minimal"])
@pytest.mark.parametrize("kind", KINDS)
def test_an_event_round_trips_through_json(kind: str, example: Any) -> None:
    event = decode(example(kind))
    again = msgspec.json.decode(msgspec.json.encode(event), type=WorldEvent)
    assert again == event
    assert type(again) is type(event)


@pytest.mark.parametrize("kind", KINDS)
def test_a_decoded_event_keeps_the_fields_as_sent(kind: str) -> None:
    body = full(kind)
    event = decode(body)
    for name, value in OWN_FIELDS[kind].items():
        assert getattr(event, name) == value, name
    assert event.summary == body["summary"]
    assert event.tags == body["tags"]
    assert str(event.event_id) == body["event_id"]


def test_omitted_tags_default_to_an_empty_list_per_event() -> None:
    first = decode(minimal("signal"))
    second = decode(minimal("signal"))
    assert first.tags == []
    first.tags.append("x")
    assert second.tags == []


def test_an_unknown_kind_is_rejected_at_the_tag() -> None:
    body = full("signal")
    body["kind"] = "coup_detat"
    assert "$.kind" in rejection(body)


def test_an_event_without_a_kind_is_rejected() -> None:
    body = full("signal")
    del body["kind"]
    assert "kind" in rejection(body)


# ---------------------------------------------------------------------------
# Times.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_occurred_at_with_an_offset_is_normalised_to_utc(kind: str) -> None:
    body = minimal(kind)
    body["occurred_at"] = "2025-03-04T08:30:00+08:00"
    event = decode(body)
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert event.occurred_at.tzinfo is UTC
    assert event.occurred_at == datetime(2025, 3, 4, 0, 30, tzinfo=UTC)


def test_occurred_at_is_encoded_in_utc() -> None:
    body = minimal("signal")
    body["occurred_at"] = "2025-03-04T08:30:00+08:00"
    encoded = msgspec.json.decode(msgspec.json.encode(decode(body)))
    assert encoded["occurred_at"] == "2025-03-04T00:30:00Z"


@pytest.mark.parametrize("kind", KINDS)
def test_a_naive_occurred_at_is_rejected(kind: str) -> None:
    body = minimal(kind)
    body["occurred_at"] = "2025-03-04T08:30:00"
    message = rejection(body)
    assert "$.occurred_at" in message
    assert "timezone" in message


@pytest.mark.parametrize("text", ["2025-03-04", "yesterday", "2025-13-01T00:00:00Z", ""])
def test_an_occurred_at_that_is_not_a_datetime_is_rejected(text: str) -> None:
    body = minimal("signal")
    body["occurred_at"] = text
    assert "$.occurred_at" in rejection(body)


# ---------------------------------------------------------------------------
# Missing, unknown and mistyped fields.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "field"), REQUIRED, ids=ids(REQUIRED))
def test_a_missing_required_field_is_rejected(kind: str, field: mi.Field) -> None:
    body = full(kind)
    del body[field.name]
    assert f"missing required field `{field.name}`" in rejection(body)


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_field_is_rejected(kind: str) -> None:
    body = full(kind)
    body["severity"] = "high"
    assert "unknown field `severity`" in rejection(body)


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_field_in_source_is_rejected(kind: str) -> None:
    body = minimal(kind)
    body["source"] = {"name": "Reuters", "author": "someone"}
    message = rejection(body)
    assert "unknown field `author`" in message
    assert "$.source" in message


def wrong_value(t: Any) -> Any:
    """A JSON value of the wrong type for a field of type ``t``."""
    t = unwrap(t)
    if isinstance(t, mi.ListType):
        return "not a list"
    if isinstance(t, mi.FloatType | mi.IntType):
        return "12"
    return 12345  # wrong for text, enums, times, UUIDs, objects


@pytest.mark.parametrize(("kind", "field"), ALL_FIELDS, ids=ids(ALL_FIELDS))
def test_a_field_of_the_wrong_type_is_rejected(kind: str, field: mi.Field) -> None:
    body = minimal(kind)
    body[field.name] = wrong_value(field.type)
    assert f"at `$.{field.name}`" in rejection(body)


@pytest.mark.parametrize(("kind", "field"), BOUNDED_NUMBERS, ids=ids(BOUNDED_NUMBERS))
def test_a_number_sent_as_a_boolean_is_rejected(kind: str, field: mi.Field) -> None:
    body = minimal(kind)
    body[field.name] = True
    assert f"at `$.{field.name}`" in rejection(body)


@pytest.mark.parametrize(("kind", "field"), REQUIRED, ids=ids(REQUIRED))
def test_null_for_a_required_field_is_rejected(kind: str, field: mi.Field) -> None:
    body = minimal(kind)
    body[field.name] = None
    assert f"at `$.{field.name}`" in rejection(body)


# ---------------------------------------------------------------------------
# Enums and country codes.
# ---------------------------------------------------------------------------


def with_value(kind: str, field: mi.Field, value: str) -> tuple[Body, str]:
    """An example of ``kind`` whose ``field`` holds ``value`` (as a list's second
    element for a list field), and the path at which it sits."""
    body = minimal(kind)
    if kind == "tariff_change":
        body.pop("direction", None)
    if element(field.type)[1]:
        first = full(kind)[field.name][0]
        body[field.name] = [first, value]
        return body, f"$.{field.name}[1]"
    body[field.name] = value
    return body, f"$.{field.name}"


@pytest.mark.parametrize(("kind", "field"), ENUM_FIELDS, ids=ids(ENUM_FIELDS))
def test_an_unknown_enum_value_is_rejected(kind: str, field: mi.Field) -> None:
    body, path = with_value(kind, field, "not_a_value")
    message = rejection(body)
    assert "Invalid enum value 'not_a_value'" in message
    assert f"at `{path}`" in message


@pytest.mark.parametrize(("kind", "field"), ENUM_FIELDS, ids=ids(ENUM_FIELDS))
def test_enum_values_are_case_sensitive(kind: str, field: mi.Field) -> None:
    value = str(element(field.type)[0].values[0]).upper()
    body, path = with_value(kind, field, value)
    assert f"at `{path}`" in rejection(body)


@pytest.mark.parametrize("code", ["XX", "cn", "CHN", "", "China"])
@pytest.mark.parametrize(("kind", "field"), COUNTRY_FIELDS, ids=ids(COUNTRY_FIELDS))
def test_a_bad_country_code_is_rejected(kind: str, field: mi.Field, code: str) -> None:
    body, path = with_value(kind, field, code)
    assert f"at `{path}`" in rejection(body)


@pytest.mark.parametrize("code", ["EU", "WORLD", "CN", "TW", "US"])
@pytest.mark.parametrize(("kind", "field"), COUNTRY_FIELDS, ids=ids(COUNTRY_FIELDS))
def test_eu_world_and_iso_codes_are_accepted_as_countries(
    kind: str, field: mi.Field, code: str
) -> None:
    body, _ = with_value(kind, field, code)
    event = decode(body)
    value = getattr(event, field.name)
    assert code in value if isinstance(value, list) else value == code


def test_the_country_list_holds_the_iso_codes_and_the_two_blocs() -> None:
    assert {"EU", "WORLD", "CN", "US", "TW", "HK"} <= COUNTRIES
    assert all(c in ("EU", "WORLD") or (len(c) == 2 and c.isupper()) for c in COUNTRIES)
    assert len(COUNTRIES) == 249 + 2


def test_an_empty_tariff_target_list_is_rejected() -> None:
    body = minimal("tariff_change")
    body["target"] = []
    assert "at `$.target`" in rejection(body)


# ---------------------------------------------------------------------------
# Numbers.
# ---------------------------------------------------------------------------


def number_bounds(field: mi.Field) -> mi.FloatType | mi.IntType:
    t = unwrap(field.type)
    assert isinstance(t, mi.FloatType | mi.IntType)
    return t


@pytest.mark.parametrize(("kind", "field"), BOUNDED_NUMBERS, ids=ids(BOUNDED_NUMBERS))
def test_a_negative_amount_is_rejected(kind: str, field: mi.Field) -> None:
    assert number_bounds(field).ge == 0
    body = minimal(kind)
    body[field.name] = -0.01
    message = rejection(body)
    assert f"at `$.{field.name}`" in message
    assert ">= 0" in message


@pytest.mark.parametrize(("kind", "field"), BOUNDED_NUMBERS, ids=ids(BOUNDED_NUMBERS))
def test_an_amount_above_its_bound_is_rejected(kind: str, field: mi.Field) -> None:
    upper = number_bounds(field).le
    assert upper is not None
    body = minimal(kind)
    body[field.name] = upper + 1
    assert f"at `$.{field.name}`" in rejection(body)


@pytest.mark.parametrize("end", ["ge", "le"])
@pytest.mark.parametrize(("kind", "field"), BOUNDED_NUMBERS, ids=ids(BOUNDED_NUMBERS))
def test_an_amount_at_its_bound_is_accepted(kind: str, field: mi.Field, end: str) -> None:
    value = getattr(number_bounds(field), end)
    body = minimal(kind)
    body[field.name] = value
    assert getattr(decode(body), field.name) == value


def test_a_share_above_100_percent_is_rejected() -> None:
    body = minimal("market_share_report")
    body["share_pct"] = 100.01
    message = rejection(body)
    assert "at `$.share_pct`" in message
    assert "<= 100" in message


@pytest.mark.parametrize("share", [0, 100, 42.5])
def test_a_share_within_0_to_100_percent_is_accepted(share: float) -> None:
    body = minimal("market_share_report")
    body["share_pct"] = share
    assert decode(body).share_pct == share


def test_an_integer_amount_is_accepted_as_a_number() -> None:
    body = minimal("tariff_change")
    body["rate_before_pct"] = 10
    assert decode(body).rate_before_pct == 10.0


# ---------------------------------------------------------------------------
# Text.
# ---------------------------------------------------------------------------


def test_an_empty_summary_is_rejected() -> None:
    body = minimal("signal")
    body["summary"] = ""
    assert "at `$.summary`" in rejection(body)


def test_a_summary_of_501_characters_is_rejected() -> None:
    body = minimal("signal")
    body["summary"] = "s" * 501
    message = rejection(body)
    assert "at `$.summary`" in message
    assert "<= 500" in message


@pytest.mark.parametrize("summary", ["s" * 500, "é" * 500, "x"])
def test_a_summary_of_1_to_500_characters_is_accepted(summary: str) -> None:
    body = minimal("signal")
    body["summary"] = summary
    assert decode(body).summary == summary


def text_bounds(field: mi.Field) -> mi.StrType:
    t = unwrap(field.type)
    assert isinstance(t, mi.StrType)
    return t


@pytest.mark.parametrize(("kind", "field"), BOUNDED_TEXT, ids=ids(BOUNDED_TEXT))
def test_text_longer_than_its_bound_is_rejected(kind: str, field: mi.Field) -> None:
    body = minimal(kind)
    body[field.name] = "t" * (text_bounds(field).max_length + 1)  # type: ignore[operator]
    assert f"at `$.{field.name}`" in rejection(body)


@pytest.mark.parametrize(("kind", "field"), BOUNDED_TEXT, ids=ids(BOUNDED_TEXT))
def test_text_at_its_length_bound_is_accepted(kind: str, field: mi.Field) -> None:
    body = minimal(kind)
    body[field.name] = "t" * text_bounds(field).max_length  # type: ignore[operator]
    assert getattr(decode(body), field.name) == body[field.name]


@pytest.mark.parametrize(
    ("kind", "field"),
    [c for c in BOUNDED_TEXT if text_bounds(c[1]).min_length],
    ids=ids([c for c in BOUNDED_TEXT if text_bounds(c[1]).min_length]),
)
def test_empty_text_is_rejected_where_a_minimum_applies(kind: str, field: mi.Field) -> None:
    body = minimal(kind)
    body[field.name] = ""
    assert f"at `$.{field.name}`" in rejection(body)


TEXT_LISTS = fields_where(
    lambda f: (
        element(f.type)[1]
        and isinstance(element(f.type)[0], mi.StrType)
        and bool(element(f.type)[0].min_length)
    )
)


@pytest.mark.parametrize(("kind", "field"), TEXT_LISTS, ids=ids(TEXT_LISTS))
def test_an_empty_string_in_a_list_of_names_is_rejected(kind: str, field: mi.Field) -> None:
    body = minimal(kind)
    body[field.name] = ["ok", ""]
    assert f"at `$.{field.name}[1]`" in rejection(body)


@pytest.mark.parametrize("tags", [[""], ["t" * 65], ["t"] * 33, [1]])
def test_bad_tags_are_rejected(tags: list[Any]) -> None:
    body = minimal("signal")
    body["tags"] = tags
    assert "at `$.tags" in rejection(body)


def test_32_tags_of_64_characters_are_accepted() -> None:
    body = minimal("signal")
    body["tags"] = [f"{i:02d}" + "t" * 62 for i in range(32)]
    assert decode(body).tags == body["tags"]


@pytest.mark.parametrize(
    "source",
    [{"name": ""}, {"url": "https://x.org/"}, {"name": "n", "url": "ftp://x.org/"}, "Reuters"],
)
def test_a_bad_source_is_rejected(source: Any) -> None:
    body = minimal("signal")
    body["source"] = source
    assert "$.source" in rejection(body)


def test_a_source_without_url_is_accepted() -> None:
    body = minimal("signal")
    body["source"] = {"name": "Reuters"}
    event = decode(body)
    assert event.source is not None
    assert event.source.name == "Reuters"
    assert event.source.url is None


def test_a_source_url_ending_in_a_newline_is_rejected() -> None:
    body = minimal("signal")
    body["source"] = {"name": "Reuters", "url": "https://x.org/\n"}
    assert "$.source.url" in rejection(body)


# ---------------------------------------------------------------------------
# Event ids.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("event_id", ["abc", "4f0b1a62-8a4f-4c39-9a53", "", "12345678-zzzz"])
def test_a_non_uuid_event_id_is_rejected(event_id: str) -> None:
    body = minimal("signal")
    body["event_id"] = event_id
    message = rejection(body)
    assert "at `$.event_id`" in message
    assert "UUID" in message


def test_a_uuid_event_id_is_accepted() -> None:
    body = minimal("signal")
    body["event_id"] = "4F0B1A62-8A4F-4C39-9A53-5D7A4BBD2F10"
    assert str(decode(body).event_id) == "4f0b1a62-8a4f-4c39-9a53-5d7a4bbd2f10"


# ---------------------------------------------------------------------------
# Tariff direction.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "direction"),
    [(10, 25, "up"), (25, 10, "down"), (25, 25, "flat"), (0, 0.5, "up"), (0.5, 0, "down")],
)
def test_tariff_direction_is_derived_from_the_rates(
    before: float, after: float, direction: str
) -> None:
    body = minimal("tariff_change")
    body.update(rate_before_pct=before, rate_after_pct=after)
    assert "direction" not in body
    event = decode(body)
    assert isinstance(event, TariffChange)
    assert event.direction == direction
    assert tariff_direction(before, after) == direction


def test_the_derived_tariff_direction_is_encoded() -> None:
    body = minimal("tariff_change")
    body.update(rate_before_pct=25, rate_after_pct=10)
    assert msgspec.json.decode(msgspec.json.encode(decode(body)))["direction"] == "down"


@pytest.mark.parametrize(
    ("before", "after", "sent"),
    [(10, 25, "down"), (10, 25, "flat"), (25, 10, "up"), (25, 25, "up"), (25, 25, "down")],
)
def test_a_sent_tariff_direction_that_disagrees_with_the_rates_is_rejected(
    before: float, after: float, sent: str
) -> None:
    body = minimal("tariff_change")
    body.update(rate_before_pct=before, rate_after_pct=after, direction=sent)
    message = rejection(body)
    assert "`direction`" in message
    assert repr(tariff_direction(before, after)) in message


@pytest.mark.parametrize(
    ("before", "after", "sent"), [(10, 25, "up"), (25, 10, "down"), (25, 25, "flat")]
)
def test_a_sent_tariff_direction_that_agrees_with_the_rates_is_accepted(
    before: float, after: float, sent: str
) -> None:
    body = minimal("tariff_change")
    body.update(rate_before_pct=before, rate_after_pct=after, direction=sent)
    assert decode(body).direction == sent


# ---------------------------------------------------------------------------
# Signal attributes.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["text", "", 3, -7, 0, 1.5, True, False, ["a", "b"], []],
    ids=lambda v: f"{type(v).__name__}:{v!r}",
)
def test_a_signal_attribute_of_a_scalar_or_string_list_is_accepted(value: Any) -> None:
    body = minimal("signal")
    body["attributes"] = {"x": value}
    decoded = decode(body).attributes["x"]
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize(
    "value",
    [{"nested": 1}, {}, [1, 2], [["a"]], [{"a": "b"}], None],
    ids=["object", "empty-object", "int-list", "nested-list", "object-list", "null"],
)
def test_a_signal_attribute_of_another_shape_is_rejected(value: Any) -> None:
    body = minimal("signal")
    body["attributes"] = {"x": value}
    assert "$.attributes" in rejection(body)


@pytest.mark.parametrize("name", ["1abc", "_x", "with space", "a-b", "", "a" * 65])
def test_a_bad_attribute_name_is_rejected(name: str) -> None:
    body = minimal("signal")
    body["attributes"] = {name: 1}
    assert "$.attributes" in rejection(body)


@pytest.mark.parametrize("name", ["a", "Ab_9", "a" * 64])
def test_a_good_attribute_name_is_accepted(name: str) -> None:
    body = minimal("signal")
    body["attributes"] = {name: 1}
    assert decode(body).attributes == {name: 1}


def test_an_attribute_name_ending_in_a_newline_is_rejected() -> None:
    body = minimal("signal")
    body["attributes"] = {"a\n": 1}
    assert "$.attributes" in rejection(body)


def test_more_than_64_attributes_are_rejected() -> None:
    body = minimal("signal")
    body["attributes"] = {f"a{i}": i for i in range(65)}
    assert "$.attributes" in rejection(body)


def test_a_signal_round_trips_with_attributes_of_every_type() -> None:
    event = decode(full("signal"))
    assert isinstance(event, Signal)
    again = msgspec.json.decode(msgspec.json.encode(event), type=WorldEvent)
    assert again.attributes == event.attributes
    assert [type(v) for v in again.attributes.values()] == [
        type(v) for v in event.attributes.values()
    ]


# ---------------------------------------------------------------------------
# Batches.
# ---------------------------------------------------------------------------


def batch(n: int) -> Body:
    kinds = [KINDS[i % len(KINDS)] for i in range(n)]
    return {"events": [minimal(k) for k in kinds]}


@pytest.mark.parametrize("n", [0, 1001])
def test_a_batch_of_0_or_more_than_1000_events_is_rejected(n: int) -> None:
    assert "$.events" in rejection(batch(n), EventBatch)


@pytest.mark.parametrize("n", [1, 1000])
def test_a_batch_of_1_to_1000_events_is_accepted(n: int) -> None:
    decoded = decode(batch(n), EventBatch)
    assert len(decoded.events) == n
    assert [kind_of(e) for e in decoded.events] == [KINDS[i % len(KINDS)] for i in range(n)]


def test_a_bad_event_in_a_batch_is_reported_at_its_index() -> None:
    body = batch(5)
    body["events"][3]["summary"] = ""
    assert "at `$.events[3].summary`" in rejection(body, EventBatch)


def test_a_batch_with_an_unknown_field_is_rejected() -> None:
    body = batch(1)
    body["atomic"] = True
    assert "unknown field `atomic`" in rejection(body, EventBatch)


def test_every_event_type_is_in_the_union() -> None:
    assert set(EVENT_TYPES) == set(KIND_TYPES.values())
    assert len(EVENT_TYPES) == 12
