"""The match grammar of rules: validation at definition time and compiled predicates.

The property-based tests compare ``compile_match`` with an oracle written here from
the documented semantics (api.md and the docstring of ``domain.matching``).
"""

from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import inspect as mi

from domain.errors import FieldError
from domain.events import KIND_TYPES, LoggedEvent, WorldEvent
from domain.matching import Match, RuleIndex, compile_match, field_spec, validate_match

Body = dict[str, Any]


BASE: dict[str, Body] = {
    "export_approval": {
        "authority": "US Commerce (BIS)",
        "category": "ai_chip",
        "product": "H200",
        "destination": "CN",
    },
    "purchase_ban": {"authority": "CAC", "target_company": "Nvidia", "scope": "advisory"},
    "tariff_change": {
        "imposing": "US",
        "target": ["CN", "HK"],
        "sector": "semiconductors",
        "rate_before_pct": 25,
        "rate_after_pct": 50,
        "status": "announced",
    },
    "joint_venture": {
        "partners": ["TSMC", "Sony"],
        "sector": "foundry",
        "location_country": "JP",
        "stage": "talks",
    },
    "market_share_report": {"company": "Huawei", "market": "AI chips", "share_pct": 23.5},
    "acquisition": {"acquirer": "Synopsys", "target": "Ansys", "target_origin_country": "US"},
    "signal": {"label": "rare earths", "attributes": {"level": 3, "note": "Tight", "ok": True}},
}


def event(kind: str, /, **fields: Any) -> Any:
    """A decoded event of ``kind``; ``None`` for a field leaves it out."""
    body: Body = {
        "kind": kind,
        "occurred_at": "2025-06-01T12:00:00Z",
        "summary": "Nvidia cleared to sell H200 chips to China",
        "tags": ["nvidia", "h200"],
        "source": {"name": "Asia Times"},
        **BASE[kind],
        **fields,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return msgspec.json.decode(msgspec.json.encode(body), type=WorldEvent)


def match(kind: str | list[str], /, **where: Any) -> Match:
    body = {"kind": kind, "where": where}
    return msgspec.json.decode(msgspec.json.encode(body), type=Match)


def problems(m: Match) -> list[FieldError]:
    return validate_match(m, "rules[0].match")


def matches(m: Match, e: Any) -> bool:
    return compile_match(m)(e)


def only_problem(m: Match) -> FieldError:
    (found,) = problems(m)
    return found


# ---------------------------------------------------------------------------
# validate_match
# ---------------------------------------------------------------------------


class TestValidateMatch:
    def test_accepts_a_field_the_kind_has(self) -> None:
        assert problems(match("export_approval", category="ai_chip")) == []

    def test_accepts_a_match_without_conditions(self) -> None:
        assert problems(match(["export_approval", "signal"])) == []

    def test_rejects_a_field_the_kind_lacks(self) -> None:
        found = only_problem(match("export_approval", scope="formal"))
        assert found.field == "rules[0].match.where.scope"
        assert "export_approval" in found.message
        assert "scope" in found.message

    def test_rejects_a_field_missing_from_one_of_the_listed_kinds(self) -> None:
        found = only_problem(match(["export_approval", "purchase_ban"], category="ai_chip"))
        assert found.field == "rules[0].match.where.category"
        assert "purchase_ban" in found.message

    def test_accepts_a_field_shared_by_every_listed_kind(self) -> None:
        assert problems(match(["export_approval", "purchase_ban"], authority="CAC")) == []

    def test_rejects_a_list_of_no_kinds(self) -> None:
        found = only_problem(match([]))
        assert found.field == "rules[0].match.kind"

    def test_rejects_an_unknown_kind_when_decoding(self) -> None:
        with pytest.raises(msgspec.ValidationError, match=r"\$\.kind"):
            match("coup")

    @pytest.mark.parametrize("condition", [{}, {"eq": "ai_chip", "ne": "sme"}])
    def test_rejects_a_condition_object_without_exactly_one_operator(self, condition: Body) -> None:
        found = only_problem(match("export_approval", category=condition))
        assert found.field == "rules[0].match.where.category"
        assert "one operator" in found.message

    def test_rejects_an_unknown_operator_when_decoding(self) -> None:
        with pytest.raises(msgspec.ValidationError, match="like"):
            match("export_approval", product={"like": "H2"})

    @pytest.mark.parametrize("op", ["lt", "le", "gt", "ge"])
    @pytest.mark.parametrize(
        ("kind", "field", "value"),
        [
            ("export_approval", "product", "H200"),
            ("export_approval", "summary", "a"),
            ("export_approval", "category", "sme"),
            ("export_approval", "destination", "CN"),
            ("export_approval", "tags", "a"),
            ("tariff_change", "target", "CN"),
            ("joint_venture", "partners", "TSMC"),
        ],
    )
    def test_rejects_an_ordered_comparison_on_text_and_lists(
        self, op: str, kind: str, field: str, value: str
    ) -> None:
        found = only_problem(match(kind, **{field: {op: value}}))
        assert found.field == f"rules[0].match.where.{field}"
        assert "numbers and times" in found.message

    @pytest.mark.parametrize("op", ["in", "nin"])
    @pytest.mark.parametrize("arg", ["ai_chip", 3, True])
    def test_rejects_in_and_nin_with_a_non_list(self, op: str, arg: Any) -> None:
        found = only_problem(match("export_approval", category={op: arg}))
        assert "list" in found.message

    @pytest.mark.parametrize("op", ["in", "nin"])
    def test_rejects_in_and_nin_with_an_empty_list(self, op: str) -> None:
        found = only_problem(match("export_approval", category={op: []}))
        assert "non-empty list" in found.message

    @pytest.mark.parametrize("op", ["eq", "ne", "contains"])
    def test_rejects_a_list_for_a_single_value_operator(self, op: str) -> None:
        found = only_problem(match("export_approval", product={op: ["H200", "H20"]}))
        assert "single value" in found.message

    @pytest.mark.parametrize(
        "condition", [5, 2.5, True, {"eq": 5}, {"ne": False}, {"in": ["H200", 5]}, {"contains": 1}]
    )
    def test_rejects_a_number_or_bool_where_text_is_expected(self, condition: Any) -> None:
        found = only_problem(match("export_approval", product=condition))
        assert found.field == "rules[0].match.where.product"
        assert "string" in found.message

    @pytest.mark.parametrize(
        ("kind", "field", "condition"),
        [
            ("export_approval", "category", "gpu"),
            ("export_approval", "category", {"ne": "gpu"}),
            ("export_approval", "category", {"in": ["ai_chip", "gpu"]}),
            ("export_approval", "category", {"nin": ["gpu"]}),
            ("export_approval", "destination", "XX"),
            ("export_approval", "destination", "cn"),
            ("tariff_change", "target", "XX"),
            ("tariff_change", "target", {"in": ["CN", "XX"]}),
            ("tariff_change", "status", "rumoured"),
            ("tariff_change", "direction", "sideways"),
            ("purchase_ban", "scope", "binding"),
            ("joint_venture", "stage", "signed"),
        ],
    )
    def test_rejects_an_enum_value_the_field_can_never_take(
        self, kind: str, field: str, condition: Any
    ) -> None:
        found = only_problem(match(kind, **{field: condition}))
        assert found.field == f"rules[0].match.where.{field}"
        assert found.message.startswith(f"`{field}` must be ")
        assert "; got `" in found.message

    @pytest.mark.parametrize(
        ("kind", "field", "condition"),
        [
            ("export_approval", "destination", {"in": ["EU", "WORLD", "CN"]}),
            ("tariff_change", "target", "WORLD"),
            ("tariff_change", "direction", "up"),
            ("tariff_change", "status", {"nin": ["suspended", "threatened"]}),
            ("export_approval", "category", {"contains": "chip"}),
        ],
    )
    def test_accepts_enum_values_the_field_can_take(
        self, kind: str, field: str, condition: Any
    ) -> None:
        assert problems(match(kind, **{field: condition})) == []

    @pytest.mark.parametrize("kind", sorted(KIND_TYPES))
    @pytest.mark.parametrize(
        ("field", "condition"),
        [
            ("source.name", {"contains": "reuters"}),
            ("summary", {"contains": "chips"}),
            ("tags", "nvidia"),
            ("tags", {"nin": ["nvidia", "amd"]}),
        ],
    )
    def test_accepts_the_common_fields_on_every_kind(
        self, kind: str, field: str, condition: Any
    ) -> None:
        assert problems(match(kind, **{field: condition})) == []

    @pytest.mark.parametrize(
        "condition", ["x", 3, 2.5, False, {"lt": 3}, {"contains": "x"}, {"in": ["x", 1, True]}]
    )
    def test_accepts_any_condition_on_a_signal_attribute(self, condition: Any) -> None:
        assert problems(match("signal", **{"attributes.foo": condition})) == []

    @pytest.mark.parametrize("kind", sorted(set(KIND_TYPES) - {"signal"}))
    def test_rejects_attributes_on_kinds_other_than_signal(self, kind: str) -> None:
        found = only_problem(match(kind, **{"attributes.foo": 1}))
        assert found.field == "rules[0].match.where.attributes.foo"

    def test_rejects_attributes_on_a_list_of_kinds_that_is_not_all_signal(self) -> None:
        found = only_problem(match(["signal", "negotiation"], **{"attributes.foo": 1}))
        assert "negotiation" in found.message

    @pytest.mark.parametrize("field", ["attributes", "attributes.", "source", "source.url"])
    def test_rejects_fields_that_are_not_matchable(self, field: str) -> None:
        assert problems(match("signal", **{field: "x"})) != []

    @pytest.mark.parametrize("field", ["event_id", "kind"])
    def test_rejects_the_event_id_and_the_kind_as_fields(self, field: str) -> None:
        assert problems(match("signal", **{field: "x"})) != []

    def test_reports_every_bad_condition(self) -> None:
        m = match("export_approval", scope="formal", category="gpu", product={"lt": "x"})
        fields = sorted(e.field for e in problems(m))
        assert fields == [
            "rules[0].match.where.category",
            "rules[0].match.where.product",
            "rules[0].match.where.scope",
        ]


def _example_value(t: Any) -> Any:
    """A JSON value that a condition on a field of inspected type ``t`` may compare with."""
    while isinstance(t, mi.Metadata | mi.UnionType):
        if isinstance(t, mi.Metadata):
            t = t.type
        else:
            (t,) = [x for x in t.types if not isinstance(x, mi.NoneType)]
    if isinstance(t, mi.ListType):
        return _example_value(t.item_type)
    if isinstance(t, mi.LiteralType):
        return t.values[0]
    if isinstance(t, mi.FloatType | mi.IntType):
        return 1
    if isinstance(t, mi.DateTimeType):
        return "2025-01-01T00:00:00+08:00"
    return "text"


# Optional fields that are not values: the id is the idempotency key, the source is
# reached as `source.name`, the attributes as `attributes.NAME`.
_NOT_MATCHABLE = {"event_id", "source", "attributes"}


def _catalogue_cases() -> list[Any]:
    cases = []
    for kind, event_type in sorted(KIND_TYPES.items()):
        info = mi.type_info(event_type)
        assert isinstance(info, mi.StructType)
        for f in info.fields:
            if f.name in _NOT_MATCHABLE:
                continue
            cases.append(pytest.param(kind, f.name, _example_value(f.type), id=f"{kind}.{f.name}"))
    return cases


@pytest.mark.parametrize(("kind", "field", "value"), _catalogue_cases())
def test_every_field_of_every_kind_is_matchable(kind: str, field: str, value: Any) -> None:
    assert problems(match(kind, **{field: {"ne": value}})) == []


def test_accepts_an_ordered_condition_on_occurred_at_with_an_rfc3339_time() -> None:
    assert problems(match("signal", occurred_at={"ge": "2025-01-01T00:00:00+08:00"})) == []


def test_rejects_text_where_a_number_is_expected() -> None:
    found = only_problem(match("market_share_report", share_pct="23.5"))
    assert "expects a number" in found.message


@pytest.mark.parametrize("condition", [{"contains": "1"}, {"contains": 1}])
def test_rejects_contains_on_a_number_field(condition: Any) -> None:
    found = only_problem(match("market_share_report", share_pct=condition))
    assert "contains" in found.message


@pytest.mark.parametrize(
    "condition",
    [
        {"lt": "2025-01-01T00:00:00"},
        {"ge": "2025-01-01"},
        {"gt": "yesterday"},
        {"le": 1735689600},
        {"in": ["2025-01-01T00:00:00Z", "2025-01-02T00:00:00"]},
        {"contains": "2025"},
    ],
)
def test_rejects_a_time_condition_that_is_not_an_rfc3339_time_with_an_offset(
    condition: Any,
) -> None:
    found = only_problem(match("signal", occurred_at=condition))
    assert found.field == "rules[0].match.where.occurred_at"


# ---------------------------------------------------------------------------
# compile_match
# ---------------------------------------------------------------------------


class TestCompileMatch:
    def test_a_scalar_condition_is_equality(self) -> None:
        approval = event("export_approval")
        assert matches(match("export_approval", category="ai_chip"), approval)
        assert not matches(match("export_approval", category="sme"), approval)

    def test_equality_on_text_is_case_sensitive(self) -> None:
        approval = event("export_approval", product="H200")
        assert not matches(match("export_approval", product="h200"), approval)

    def test_eq_is_the_same_as_a_scalar(self) -> None:
        approval = event("export_approval")
        assert matches(match("export_approval", product={"eq": "H200"}), approval)
        assert not matches(match("export_approval", product={"eq": "H20"}), approval)

    def test_ne_is_inequality_on_a_present_field(self) -> None:
        approval = event("export_approval")
        assert not matches(match("export_approval", product={"ne": "H200"}), approval)
        assert matches(match("export_approval", product={"ne": "H20"}), approval)

    def test_in_and_nin_test_the_value_against_a_list(self) -> None:
        approval = event("export_approval", destination="CN")
        assert matches(match("export_approval", destination={"in": ["HK", "CN"]}), approval)
        assert not matches(match("export_approval", destination={"in": ["HK", "MO"]}), approval)
        assert not matches(match("export_approval", destination={"nin": ["CN"]}), approval)
        assert matches(match("export_approval", destination={"nin": ["HK"]}), approval)

    @pytest.mark.parametrize(
        ("field", "condition", "expected"),
        [
            ("tags", "nvidia", True),
            ("tags", "amd", False),
            ("tags", {"eq": "h200"}, True),
            ("tags", {"in": ["amd", "h200"]}, True),
            ("tags", {"in": ["amd", "intel"]}, False),
            ("target", "HK", True),
            ("target", "WORLD", False),
            ("target", {"in": ["TW", "CN"]}, True),
            ("target", {"eq": "CN"}, True),
        ],
    )
    def test_a_scalar_eq_and_in_on_a_list_field_test_membership(
        self, field: str, condition: Any, expected: bool
    ) -> None:
        tariff = event("tariff_change", tags=["nvidia", "h200"], target=["CN", "HK"])
        assert matches(match("tariff_change", **{field: condition}), tariff) is expected

    @pytest.mark.parametrize(
        ("field", "condition", "expected"),
        [
            ("tags", {"ne": "nvidia"}, False),
            ("tags", {"ne": "amd"}, True),
            ("tags", {"nin": ["amd", "nvidia"]}, False),
            ("tags", {"nin": ["amd", "intel"]}, True),
            ("target", {"nin": ["HK"]}, False),
        ],
    )
    def test_ne_and_nin_on_a_list_field_test_non_membership(
        self, field: str, condition: Any, expected: bool
    ) -> None:
        tariff = event("tariff_change", tags=["nvidia", "h200"], target=["CN", "HK"])
        assert matches(match("tariff_change", **{field: condition}), tariff) is expected

    @pytest.mark.parametrize("condition", [{"ne": "H20"}, {"nin": ["H20", "H200"]}])
    def test_ne_and_nin_hold_when_the_field_is_absent(self, condition: Any) -> None:
        ban = event("purchase_ban", product=None)
        assert ban.product is None
        assert matches(match("purchase_ban", product=condition), ban)

    @pytest.mark.parametrize(
        "condition", ["H20", {"eq": "H20"}, {"in": ["H20"]}, {"contains": "H"}]
    )
    def test_other_conditions_fail_when_the_field_is_absent(self, condition: Any) -> None:
        ban = event("purchase_ban", product=None)
        assert not matches(match("purchase_ban", product=condition), ban)

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [({"ne": "Reuters"}, True), ({"nin": ["Reuters"]}, True), ({"contains": "r"}, False)],
    )
    def test_source_name_without_a_source_counts_as_absent(
        self, condition: Any, expected: bool
    ) -> None:
        approval = event("export_approval", source=None)
        assert matches(match("export_approval", **{"source.name": condition}), approval) is expected

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [({"ne": 1}, True), ({"nin": [1, "x"]}, True), ({"eq": 1}, False), ({"lt": 9}, False)],
    )
    def test_a_missing_signal_attribute_counts_as_absent(
        self, condition: Any, expected: bool
    ) -> None:
        signal = event("signal", attributes={"other": 1})
        assert matches(match("signal", **{"attributes.level": condition}), signal) is expected

    @pytest.mark.parametrize(
        ("field", "needle", "expected"),
        [
            ("summary", "NVIDIA", True),
            ("summary", "h200 chips", True),
            ("summary", "cleared to buy", False),
            ("source.name", "asia", True),
            ("source.name", "TIMES", True),
            ("product", "h2", True),
            ("category", "CHIP", True),
            ("destination", "c", True),
        ],
    )
    def test_contains_on_text_is_a_case_insensitive_substring(
        self, field: str, needle: str, expected: bool
    ) -> None:
        approval = event("export_approval")
        condition = {field: {"contains": needle}}
        assert matches(match("export_approval", **condition), approval) is expected

    @pytest.mark.parametrize(
        ("field", "needle", "expected"),
        [
            ("tags", "nvidia", True),
            ("tags", "nvi", False),
            ("target", "HK", True),
            ("target", "H", False),
        ],
    )
    def test_contains_on_a_list_is_membership(
        self, field: str, needle: str, expected: bool
    ) -> None:
        tariff = event("tariff_change", tags=["nvidia", "h200"], target=["CN", "HK"])
        assert matches(match("tariff_change", **{field: {"contains": needle}}), tariff) is expected

    @pytest.mark.parametrize(
        ("op", "bound", "expected"),
        [
            ("lt", 50, False),
            ("lt", 50.5, True),
            ("le", 50, True),
            ("le", 49.9, False),
            ("gt", 50, False),
            ("gt", 49, True),
            ("ge", 50, True),
            ("ge", 50.01, False),
        ],
    )
    def test_ordered_comparisons_on_numbers(self, op: str, bound: float, expected: bool) -> None:
        tariff = event("tariff_change", rate_before_pct=25, rate_after_pct=50)
        m = match("tariff_change", rate_after_pct={op: bound})
        assert matches(m, tariff) is expected

    def test_an_integer_condition_equals_a_float_value(self) -> None:
        tariff = event("tariff_change", rate_after_pct=50)
        assert matches(match("tariff_change", rate_after_pct=50), tariff)
        assert matches(match("tariff_change", rate_after_pct=50.0), tariff)

    def test_an_ordered_comparison_fails_on_an_absent_number(self) -> None:
        venture = event("joint_venture", value_usd=None)
        for op in ("lt", "le", "gt", "ge"):
            assert not matches(match("joint_venture", value_usd={op: 1e9}), venture), op

    @pytest.mark.parametrize(
        ("op", "holds", "fails"),
        [
            ("lt", "2025-06-01T07:00:01-05:00", "2025-06-01T20:00:00+08:00"),
            ("le", "2025-06-01T20:00:00+08:00", "2025-06-01T11:59:59Z"),
            ("gt", "2025-06-01T11:59:59Z", "2025-06-01T08:00:00-04:00"),
            ("ge", "2025-06-01T08:00:00-04:00", "2025-06-01T12:00:01Z"),
        ],
    )
    def test_ordered_comparisons_on_occurred_at_use_rfc3339_times(
        self, op: str, holds: str, fails: str
    ) -> None:
        signal = event("signal", occurred_at="2025-06-01T12:00:00Z")
        assert matches(match("signal", occurred_at={op: holds}), signal)
        assert not matches(match("signal", occurred_at={op: fails}), signal)

    def test_equality_on_occurred_at_compares_instants(self) -> None:
        signal = event("signal", occurred_at="2025-06-01T12:00:00Z")
        assert matches(match("signal", occurred_at="2025-06-01T20:00:00+08:00"), signal)

    def test_a_kind_not_listed_never_matches(self) -> None:
        ban = event("purchase_ban")
        assert not matches(match("export_approval"), ban)
        assert not matches(match(["export_approval", "export_restriction"]), ban)
        assert not matches(match("export_approval", **{"tags": {"ne": "x"}}), ban)

    def test_no_conditions_match_every_event_of_a_listed_kind(self) -> None:
        m = match(["purchase_ban", "signal"])
        assert matches(m, event("purchase_ban"))
        assert matches(m, event("signal"))

    def test_every_condition_must_hold(self) -> None:
        approval = event("export_approval")
        assert matches(match("export_approval", category="ai_chip", destination="CN"), approval)
        assert not matches(match("export_approval", category="ai_chip", destination="HK"), approval)

    def test_the_derived_tariff_direction_is_matchable(self) -> None:
        tariff = event("tariff_change", rate_before_pct=50, rate_after_pct=10)
        assert matches(match("tariff_change", direction="down"), tariff)
        assert not matches(match("tariff_change", direction="up"), tariff)

    @pytest.mark.parametrize(
        ("name", "condition", "expected"),
        [
            ("level", 3, True),
            ("level", 3.0, True),
            ("level", "3", False),
            ("level", True, False),
            ("ok", True, True),
            ("ok", 1, False),
            ("note", "Tight", True),
            ("note", "tight", False),
            ("level", {"gt": 2}, True),
            ("note", {"contains": "IGH"}, True),
        ],
    )
    def test_a_signal_attribute_matches_only_values_of_its_type(
        self, name: str, condition: Any, expected: bool
    ) -> None:
        signal = event("signal", attributes={"level": 3, "note": "Tight", "ok": True})
        assert matches(match("signal", **{f"attributes.{name}": condition}), signal) is expected

    @pytest.mark.parametrize(
        ("value", "condition"), [("b", {"gt": "a"}), (False, {"lt": True})], ids=["text", "bool"]
    )
    def test_an_ordered_comparison_on_a_non_number_attribute_is_refused_or_never_holds(
        self, value: Any, condition: Any
    ) -> None:
        m = match("signal", **{"attributes.x": condition})
        signal = event("signal", attributes={"x": value})
        assert problems(m) != [] or not matches(m, signal)

    def test_a_logged_event_matches_like_the_event_as_sent(self) -> None:
        body = msgspec.json.decode(msgspec.json.encode(event("export_approval")))
        logged = msgspec.json.decode(msgspec.json.encode({**body, "position": 7}), type=LoggedEvent)
        assert matches(match("export_approval", category="ai_chip"), logged)
        assert not matches(match("export_restriction"), logged)


# ---------------------------------------------------------------------------
# Property-based: compile_match against an oracle written from the documentation.
# ---------------------------------------------------------------------------

TIMES = [
    "2025-01-01T00:00:00Z",
    "2025-01-01T08:00:00+08:00",  # the same instant as the first
    "2024-12-31T19:00:00-05:00",  # and again
    "2025-01-01T00:00:01Z",
    "2024-12-31T23:59:59+00:00",
    "2025-06-30T12:00:00+05:30",
]
SUMMARIES = ["Tariff on chips raised", "JV plant opens in Kumamoto", "CHIPS act grant"]
TAGS = ["nvidia", "Nvidia", "h20", "chips"]
SOURCES = ["Reuters", "reuters", "Asia Times"]
COUNTRIES = ["US", "CN", "EU", "WORLD", "JP"]
SECTORS = ["chips", "Chips", "steel", "rare earths"]
RATES = [0, 10, 25.5, 100]
STATUSES = ["threatened", "announced", "effective", "suspended"]
DIRECTIONS = ["up", "down", "flat"]
PARTNERS = ["TSMC", "tsmc", "Samsung", "SMIC"]
STAGES = ["talks", "announced", "plant_opened", "cancelled"]
VALUES = [0, 1e9, 2.5e9]
LABELS = ["rare earths", "Rare Earths", "gallium"]
ATTR_NAMES = ["a", "b", "c"]
ATTR_SCALARS: list[Any] = ["x", "X", "xy", "", -1, 0, 1, 1.0, 2.5, True, False]
ATTR_VALUES: list[Any] = [*ATTR_SCALARS, ["x", "y"], ["X"], []]

TEXT_OPS = ["scalar", "eq", "ne", "in", "nin", "contains"]
ORDERED_OPS = ["scalar", "eq", "ne", "in", "nin", "lt", "le", "gt", "ge"]
ANY_OPS = [*TEXT_OPS, "lt", "le", "gt", "ge"]
ORDERED = {"lt", "le", "gt", "ge"}

# A field's domain: its operators, and the values a condition may name besides those
# taken from the event at hand (which makes matches likely).
Domain = tuple[list[str], list[Any]]
COMMON_DOMAINS: dict[str, Domain] = {
    "summary": (TEXT_OPS, [*SUMMARIES, "chips", "x"]),
    "tags": (TEXT_OPS, [*TAGS, "nvi"]),
    "source.name": (TEXT_OPS, [*SOURCES, "asia"]),
    "occurred_at": (ORDERED_OPS, TIMES),
}
KIND_DOMAINS: dict[str, dict[str, Domain]] = {
    "tariff_change": {
        "imposing": (TEXT_OPS, COUNTRIES),
        "target": (TEXT_OPS, COUNTRIES),
        "sector": (TEXT_OPS, SECTORS),
        "rate_before_pct": (ORDERED_OPS, [*RATES, 5, 10.0, 200]),
        "rate_after_pct": (ORDERED_OPS, [*RATES, 5, 10.0, 200]),
        "status": (TEXT_OPS, STATUSES),
        "direction": (TEXT_OPS, DIRECTIONS),
    },
    "joint_venture": {
        "partners": (TEXT_OPS, PARTNERS),
        "sector": (TEXT_OPS, SECTORS),
        "location_country": (TEXT_OPS, COUNTRIES),
        "stage": (TEXT_OPS, STAGES),
        "value_usd": (ORDERED_OPS, [*VALUES, 1000000000, 3e9]),
    },
    "signal": {
        "label": (TEXT_OPS, LABELS),
        **{f"attributes.{n}": (ANY_OPS, ATTR_SCALARS) for n in ATTR_NAMES},
    },
}
KIND_CHOICES: list[str | list[str]] = [
    "tariff_change",
    "joint_venture",
    "signal",
    ["signal"],
    ["tariff_change"],
    ["tariff_change", "joint_venture"],
    ["joint_venture", "signal"],
    ["signal", "tariff_change", "joint_venture"],
]


def _common() -> st.SearchStrategy[Body]:
    return st.fixed_dictionaries(
        {"occurred_at": st.sampled_from(TIMES), "summary": st.sampled_from(SUMMARIES)},
        optional={
            "tags": st.lists(st.sampled_from(TAGS), max_size=3),
            "source": st.builds(lambda name: {"name": name}, st.sampled_from(SOURCES)),
        },
    )


def _own(kind: str) -> st.SearchStrategy[Body]:
    countries = st.sampled_from(COUNTRIES)
    if kind == "tariff_change":
        return st.fixed_dictionaries(
            {
                "kind": st.just(kind),
                "imposing": countries,
                "target": st.lists(countries, min_size=1, max_size=3),
                "sector": st.sampled_from(SECTORS),
                "rate_before_pct": st.sampled_from(RATES),
                "rate_after_pct": st.sampled_from(RATES),
                "status": st.sampled_from(STATUSES),
            }
        )
    if kind == "joint_venture":
        return st.fixed_dictionaries(
            {
                "kind": st.just(kind),
                "partners": st.lists(st.sampled_from(PARTNERS), min_size=1, max_size=3),
                "sector": st.sampled_from(SECTORS),
                "location_country": countries,
                "stage": st.sampled_from(STAGES),
            },
            optional={"value_usd": st.sampled_from(VALUES)},
        )
    return st.fixed_dictionaries(
        {"kind": st.just(kind), "label": st.sampled_from(LABELS)},
        optional={
            "attributes": st.dictionaries(
                st.sampled_from(ATTR_NAMES), st.sampled_from(ATTR_VALUES), max_size=3
            )
        },
    )


def event_bodies(kinds: list[str]) -> st.SearchStrategy[Body]:
    """Events, mostly of one of ``kinds`` (so that conditions decide), sometimes of any."""
    kind = st.sampled_from(kinds * 3 + sorted(KIND_DOMAINS))
    return kind.flatmap(lambda k: st.builds(lambda c, o: {**c, **o}, _common(), _own(k)))


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None
    return parsed


def _direction(body: Body) -> str:
    before, after = body["rate_before_pct"], body["rate_after_pct"]
    return "up" if after > before else "down" if after < before else "flat"


def oracle_value(body: Body, field: str) -> Any:
    """What the documentation says a condition on ``field`` looks at (None: absent)."""
    if field == "source.name":
        return body["source"]["name"] if "source" in body else None
    if field.startswith("attributes."):
        return body.get("attributes", {}).get(field.removeprefix("attributes."))
    if field == "direction":
        return _direction(body) if body["kind"] == "tariff_change" else None
    if field == "occurred_at":
        return _time(body["occurred_at"])
    return body.get(field)


def _near(body: Body, field: str) -> tuple[list[Any], list[Any]]:
    """Values taken from the event itself: for equality and order, and `contains` needles
    (the same text in other cases, and pieces of it)."""
    value = oracle_value(body, field)
    if value is None:
        return [], []
    if field == "occurred_at":
        raw = body["occurred_at"]
        shifted = value.astimezone(timezone(timedelta(hours=-3))).isoformat()
        return [raw, shifted], []
    items = value if isinstance(value, list) else [value]
    if field.startswith("attributes."):
        return [v for v in items if not isinstance(v, list)], []
    texts = [v for v in items if isinstance(v, str)]
    needles = [n for t in texts for n in (t.upper(), t.swapcase(), t[1:3], t[1:4].upper())]
    return items, [*texts, *needles]


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


@st.composite
def _condition(draw: st.DrawFn, field: str, domain: Domain, body: Body) -> Any:
    ops, values = domain
    near, needles = _near(body, field)
    op = draw(st.sampled_from(ops))

    def pick(choices: list[Any]) -> Any:
        options = [st.sampled_from(values)]
        if choices:
            options.append(st.sampled_from(choices))
        return draw(st.one_of(*options))

    if op in ("in", "nin"):
        n = draw(st.integers(1, 3))
        return {op: [pick(near) for _ in range(n)]}
    if op == "contains":
        spec = field_spec(body["kind"], field)
        if spec is not None and spec.is_list and spec.allowed is not None:
            return {op: pick(near)}  # a list of codes: `contains` takes a code, not a piece
        return {op: pick(near + needles)}
    if op in ORDERED:
        bound = pick(near)
        # on a signal attribute, order is documented for numbers only
        if field.startswith("attributes.") and not _number(bound):
            bound = draw(st.sampled_from([-1, 0, 1, 2.5]))
        return {op: bound}
    value = pick(near)
    return value if op == "scalar" else {op: value}


@st.composite
def cases(draw: st.DrawFn, only: str | None = None) -> tuple[Body, Body]:
    """A match and an event: the event mostly of a listed kind, and the conditions
    mostly naming values the event has, so that both outcomes are common."""
    kind = draw(st.sampled_from(KIND_CHOICES))
    kinds = [kind] if isinstance(kind, str) else kind
    body = draw(event_bodies(kinds))
    shared = set.intersection(*(set(KIND_DOMAINS[k]) for k in kinds))
    own = {f: KIND_DOMAINS[kinds[0]][f] for f in sorted(shared)}
    fields = {**COMMON_DOMAINS, **own}
    if only is not None:
        names = [only]
    else:
        size = draw(st.sampled_from([1, 1, 2, 3]))  # mostly one condition, so it decides
        own_names = st.sampled_from(sorted(own)) if own else st.nothing()
        name = st.one_of(own_names, own_names, st.sampled_from(sorted(fields)))
        names = draw(st.lists(name, min_size=size, max_size=size, unique=True))
    where = {n: draw(_condition(n, fields[n], body)) for n in names}
    return {"kind": kind, "where": where}, body


def _category(x: Any) -> str:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int | float):
        return "number"
    return type(x).__name__


def _same(value: Any, arg: Any) -> bool:
    return _category(value) == _category(arg) and value == arg


def _is(value: Any, arg: Any) -> bool:
    """Equality; on a list, membership. An absent value equals nothing."""
    if value is None:
        return False
    if isinstance(value, list):
        return any(_same(v, arg) for v in value)
    return _same(value, arg)


def oracle_holds(op: str, value: Any, arg: Any) -> bool:
    if op == "eq":
        return _is(value, arg)
    if op == "ne":
        return not _is(value, arg)
    if op == "in":
        return any(_is(value, a) for a in arg)
    if op == "nin":
        return not any(_is(value, a) for a in arg)
    if op == "contains":
        if isinstance(value, list):
            return _is(value, arg)
        if isinstance(value, str) and isinstance(arg, str):
            return arg.casefold() in value.casefold()
        return False
    # lt le gt ge: numbers and times only, never an absent value or a list
    if _category(value) not in ("number", "datetime") or _category(value) != _category(arg):
        return False
    holds: dict[str, bool] = {
        "lt": value < arg,
        "le": value <= arg,
        "gt": value > arg,
        "ge": value >= arg,
    }
    return holds[op]


def oracle(match_body: Body, body: Body) -> bool:
    kinds = match_body["kind"]
    if body["kind"] not in ([kinds] if isinstance(kinds, str) else kinds):
        return False
    for field, condition in match_body["where"].items():
        op, arg = (
            next(iter(condition.items())) if isinstance(condition, dict) else ("eq", condition)
        )
        if field == "occurred_at":
            arg = [_time(a) for a in arg] if isinstance(arg, list) else _time(arg)
        if not oracle_holds(op, oracle_value(body, field), arg):
            return False
    return True


def _decoded(body: Body, type_: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(body), type=type_)


@settings(max_examples=500, deadline=None, database=None)
@given(case=cases())
def test_compiled_matches_agree_with_the_documented_semantics(case: tuple[Body, Body]) -> None:
    match_body, body = case
    m = _decoded(match_body, Match)
    assert validate_match(m, "m") == []  # the generator makes only valid conditions
    assert compile_match(m)(_decoded(body, WorldEvent)) is oracle(match_body, body)


@settings(max_examples=150, deadline=None, database=None)
@given(case=cases(only="occurred_at"))
def test_compiled_time_conditions_agree_with_the_documented_semantics(
    case: tuple[Body, Body],
) -> None:
    match_body, body = case
    m = _decoded(match_body, Match)
    assert validate_match(m, "m") == []
    assert compile_match(m)(_decoded(body, WorldEvent)) is oracle(match_body, body)


@settings(max_examples=200, deadline=None, database=None)
@given(pairs=st.lists(cases(), min_size=1, max_size=8), removed=st.sets(st.integers(0, 15)))
def test_the_rule_index_finds_exactly_the_rules_whose_match_holds(
    pairs: list[tuple[Body, Body]], removed: set[int]
) -> None:
    """Filed twice (two scenarios sharing each rule), some removed again: the index
    answers what testing every remaining rule would."""
    index: RuleIndex[int] = RuleIndex()
    rules = {}
    for i, (match_body, _) in enumerate(pairs * 2):
        rules[i] = _decoded(match_body, Match)
        index.add(i, rules[i])
    for i in removed & set(rules):
        index.remove(i)
        del rules[i]
    for _, body in pairs:
        event = _decoded(body, WorldEvent)
        expected = {i for i, m in rules.items() if oracle(msgspec.to_builtins(m), body)}
        found = index.matching(event)
        assert len(found) == len(set(found))
        assert set(found) == expected


def test_the_rule_index_tests_a_shared_match_once() -> None:
    calls = []
    index: RuleIndex[str] = RuleIndex()
    shared = match("purchase_ban", summary={"contains": "drone"})
    for key in ("a", "b", "c"):
        index.add(key, shared)
    group = next(iter(index._groups.values()))
    predicate = group.predicate
    group.predicate = lambda e: calls.append(e) or predicate(e)  # type: ignore[assignment]
    hit = event("purchase_ban", summary="Drone makers listed")
    assert sorted(index.matching(hit)) == ["a", "b", "c"]
    assert len(calls) == 1
