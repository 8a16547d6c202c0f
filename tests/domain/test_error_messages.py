"""Errors that teach (issue 15, point 4): what is allowed, the closest guess first."""

from datetime import timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.alerts import AlertDefinition, Condition, check_condition
from domain.body_errors import body_errors, parameter_message
from domain.errors import FieldError, InvalidInput
from domain.events import EventBatch, EventKind, WorldEvent
from domain.matching import Match, validate_match
from domain.scenarios import Rule, ScenarioDefinition, Slug, check_definition, rule_errors
from domain.suggestions import closest, no_such_field
from domain.wording import in_words


def decoding_errors(body_type: object, raw: object) -> list[FieldError]:
    """What ``body_errors`` makes of msgspec's own message for ``raw``."""
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(raw, body_type, strict=True)
    return body_errors(body_type, raw, str(caught.value))


def ban(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "purchase_ban",
        "occurred_at": "2025-01-01T00:00:00Z",
        "summary": "CAC bans Nvidia chips",
        "authority": "CAC",
        "target_company": "Nvidia",
        "scope": "formal",
    }
    body.update(changes)
    return body


class TestClosest:
    def test_a_field_that_contains_the_word_comes_first(self) -> None:
        fields = ["authority", "target_company", "product", "scope", "summary"]
        assert closest("company", fields)[0] == "target_company"

    def test_a_misspelling_finds_its_field(self) -> None:
        assert closest("sumary", ["authority", "summary", "scope"]) == ["summary"]

    def test_nothing_alike_finds_nothing(self) -> None:
        assert closest("zzz", ["authority", "scope"]) == []

    def test_the_message_lists_every_field_closest_first(self) -> None:
        text = no_such_field("kind `k` has no field `company`", "company", ["a", "target_company"])
        assert text == (
            "kind `k` has no field `company`; did you mean `target_company`? "
            "Its fields: target_company, a"
        )


class TestRuleFields:
    def test_an_unknown_field_names_the_closest_and_the_kinds_fields(self) -> None:
        (error,) = validate_match(Match(kind="purchase_ban", where={"company": "x"}), "m")
        assert error.field == "m.where.company"
        assert error.message.startswith(
            "kind `purchase_ban` has no field `company`; did you mean `target_company`? "
            "Its fields: target_company, "
        )
        for field in ("authority", "product", "scope", "summary", "tags", "source.name"):
            assert field in error.message

    def test_a_field_missing_from_one_listed_kind_names_that_kind(self) -> None:
        match = Match(kind=["purchase_ban", "export_approval"], where={"target_company": "x"})
        (error,) = validate_match(match, "m")
        assert error.message.startswith("kind `export_approval` has no field `target_company`")
        assert "`purchase_ban` has it" in error.message
        assert "Fields every listed kind has: " in error.message
        listed = error.message.split("Fields every listed kind has: ")[1]
        assert "authority" in listed
        assert "scope" not in listed

    def test_an_enum_value_lists_the_allowed_values(self) -> None:
        (error,) = validate_match(Match(kind="purchase_ban", where={"scope": "formall"}), "m")
        assert error.message == (
            "`scope` must be one of: advisory, formal; got `formall`; did you mean `formal`?"
        )

    def test_a_country_code_is_described(self) -> None:
        (error,) = validate_match(Match(kind="export_approval", where={"destination": "XX"}), "m")
        assert "country code" in error.message
        assert "got `XX`" in error.message


class TestBodies:
    def test_an_unknown_event_field_names_the_kinds_fields(self) -> None:
        (error,) = decoding_errors(WorldEvent, ban(company="Nvidia"))
        assert error.field == "company"
        assert error.message.startswith(
            "kind `purchase_ban` has no field `company`; did you mean `target_company`?"
        )
        assert "authority" in error.message

    def test_unknown_and_missing_fields_are_reported_together(self) -> None:
        raw = ban(company="Nvidia", colour="red")
        del raw["authority"]
        errors = decoding_errors(EventBatch, {"events": [ban(), raw]})
        assert [e.field for e in errors] == [
            "events[1].company",
            "events[1].colour",
            "events[1].authority",
        ]
        assert errors[2].message == "kind `purchase_ban` requires the field `authority`"

    def test_an_enum_field_lists_its_values(self) -> None:
        (error,) = decoding_errors(WorldEvent, ban(scope="formall"))
        assert error == FieldError(
            "scope",
            "`scope` must be one of: advisory, formal; got `formall`; did you mean `formal`?",
        )

    def test_an_unknown_kind_lists_the_kinds(self) -> None:
        (error,) = decoding_errors(WorldEvent, ban(kind="purchase_bam"))
        assert error.field == "kind"
        assert "must be one of: export_approval, " in error.message
        assert error.message.endswith("got `purchase_bam`; did you mean `purchase_ban`?")

    def test_an_unknown_operator_points_at_its_condition(self) -> None:
        rule = {"name": "r", "bayes_factor": 2, "match": {"kind": "purchase_ban",
                "where": {"scope": {"equals": "formal"}}}}  # fmt: skip
        raw = {"title": "t", "question": "q", "deadline": "2026-01-01T00:00:00Z",
               "prior": 0.2, "rules": [rule]}  # fmt: skip
        (error,) = decoding_errors(ScenarioDefinition, raw)
        assert error.field == "rules[0].match.where.scope"
        assert "must be one of: " in error.message
        assert "eq" in error.message
        assert "got `equals`" in error.message

    def test_a_bad_attribute_name_is_named_and_the_rule_said_in_words(self) -> None:
        raw = {"kind": "signal", "occurred_at": "2025-01-01T00:00:00Z", "summary": "s",
               "label": "l", "attributes": {"ok": 1, "1bad": 2}}  # fmt: skip
        (error,) = decoding_errors(WorldEvent, raw)
        assert error.field == "attributes.1bad"
        assert "regex" not in error.message
        assert "a letter, then" in error.message

    def test_a_model_parameter_out_of_bounds_names_its_bounds(self) -> None:
        raw = {"title": "t", "question": "q", "deadline": "2026-01-01T00:00:00Z", "prior": 1.5}
        (error,) = decoding_errors(ScenarioDefinition, raw)
        assert error == FieldError(
            "prior", "must be a number at most 0.999999999999 (allowed: 1e-12 to 1 - 1e-12)"
        )


class TestWords:
    def test_a_slug_rule_is_said_in_words(self) -> None:
        with pytest.raises(msgspec.ValidationError) as caught:
            msgspec.convert("Bad_Id", Slug)
        text = in_words(str(caught.value))
        assert text == (
            "must be 3 to 80 characters: lowercase letters, digits and hyphens, "
            "starting with a letter or digit"
        )

    @pytest.mark.parametrize(
        ("message", "expected"),
        [
            ("Expected `str`, got `int`", "must be a string; got an integer"),
            ("Expected `float` <= 100.0", "must be a number at most 100.0"),
            ("Expected `array` of length >= 1", "must be an array of at least 1 item"),
        ],
    )
    def test_types_and_bounds_are_words(self, message: str, expected: str) -> None:
        assert in_words(message) == expected

    def test_a_query_parameter_lists_its_values(self) -> None:
        text = parameter_message(EventKind | None, "kind", "Invalid enum value 'purchase_bam'")
        assert text.startswith("`kind` must be one of: ")
        assert text.endswith("did you mean `purchase_ban`?")


class TestDomainChecks:
    def test_a_deadline_before_the_opening_names_both_times(self) -> None:
        definition = msgspec.convert(
            {
                "title": "t",
                "question": "q",
                "prior": 0.2,
                "opens_at": "2026-01-01T00:00:00Z",
                "deadline": "2025-06-01T00:00:00+02:00",
            },
            ScenarioDefinition,
        )
        with pytest.raises(InvalidInput) as caught:
            check_definition(definition)
        (error,) = caught.value.errors
        assert error == FieldError(
            "deadline",
            "must be after opens_at (2026-01-01T00:00:00+00:00); got 2025-05-31T22:00:00+00:00",
        )

    def test_a_repeated_rule_name_points_at_the_first(self) -> None:
        rule = Rule(name="r", match=Match(kind="signal"), bayes_factor=2.0)
        (error,) = rule_errors([rule, rule], "rules")
        assert error == FieldError(
            "rules[1].name", "rule names are unique: 'r' is also rules[0].name"
        )

    @pytest.mark.parametrize(
        ("condition", "field", "words"),
        [
            (Condition(), "condition", "exactly one of `crosses`"),
            (Condition(crosses=0.5, within=timedelta(days=1)), "condition.within", "only with"),
            (Condition(moves_by=0.1), "condition.within", "such as P1D, at most P366D"),
        ],
    )
    def test_an_alert_condition_says_what_completes_it(
        self, condition: Condition, field: str, words: str
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            check_condition(condition)
        (error,) = caught.value.errors
        assert error.field == field
        assert words in error.message


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from(
    ["kind", "scope", "where", "match", "rules", "events", "attributes", "company",
     "occurred_at", "source", "name", "label", "1bad", "eq", "equals"]
)  # fmt: skip
VALID: list[tuple[object, object]] = [
    (WorldEvent, ban()),
    (EventBatch, {"events": [ban(), ban(kind="signal", label="l", attributes={"a": 1})]}),
    (
        ScenarioDefinition,
        {"title": "t", "question": "q", "deadline": "2026-01-01T00:00:00Z", "prior": 0.2,
         "rules": [{"name": "r", "bayes_factor": 2,
                    "match": {"kind": ["signal"], "where": {"label": {"in": ["a"]}}}}]},
    ),
    (AlertDefinition, {"scenario_ids": ["abc"], "condition": {"moves_by": 0.1, "within": "P1D"},
                       "url": "https://example.org/", "secret": "s"}),
]  # fmt: skip


def mutated(data: st.DataObject, value: object) -> object:
    """``value`` with one place in it changed: a value replaced, a key added or dropped."""
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        return {**value, key: mutated(data, value[key])}
    if isinstance(value, list) and value and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(value) - 1))
        return [*value[:i], mutated(data, value[i]), *value[i + 1 :]]
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        dropped = data.draw(st.sampled_from(sorted(value)))
        return {k: v for k, v in value.items() if k != dropped}
    if isinstance(value, dict) and data.draw(st.booleans()):
        return {**value, data.draw(FIELD_NAMES): data.draw(JSON)}
    return data.draw(JSON | FIELD_NAMES)


def assert_explained(body_type: object, raw: object) -> None:
    """Whatever msgspec rejects, the explanation is a non-empty list of field errors."""
    try:
        msgspec.convert(raw, body_type, strict=True)
    except msgspec.ValidationError as e:
        found = body_errors(body_type, raw, str(e))
        assert found
        assert all(isinstance(f.field, str) and f.message for f in found)


@settings(max_examples=300, deadline=None)
@given(
    body_type=st.sampled_from([WorldEvent, EventBatch, ScenarioDefinition, AlertDefinition]),
    raw=st.dictionaries(FIELD_NAMES, JSON, max_size=5) | JSON,
)
def test_every_rejected_body_is_explained_without_failing(body_type: object, raw: object) -> None:
    assert_explained(body_type, raw)


@settings(max_examples=500, deadline=None)
@given(case=st.sampled_from(VALID), data=st.data())
def test_every_mutated_body_is_explained_without_failing(
    case: tuple[object, object], data: st.DataObject
) -> None:
    body_type, valid = case
    assert_explained(body_type, mutated(data, valid))
