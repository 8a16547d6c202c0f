"""Scenario definitions, their rules and resolutions; and the records of the log."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import msgspec
import pytest

from domain.codecs import stored_definition
from domain.errors import AlreadyRetracted, Conflict, InvalidInput
from domain.records import (
    EventRecord,
    ResolutionRecord,
    ScenarioRecord,
    idempotency_event_id,
    resolution_record_id,
    scenario_record_id,
)
from domain.scenarios import (
    BAYES_FACTOR,
    HALF_LIFE_DAYS,
    PRIOR,
    PRIOR_STRENGTH,
    REPEAT_DISCOUNT,
    SLUG_PATTERN,
    TIMING_SHAPE,
    UNCERTAINTY,
    Bounds,
    Resolution,
    Retraction,
    Rule,
    ScenarioDefinition,
    Slug,
    check_definition,
)

Body = dict[str, Any]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def rule(**changes: Any) -> Body:
    body: Body = {
        "name": "chip approvals",
        "match": {"kind": "export_approval", "where": {"category": "ai_chip"}},
        "bayes_factor": 1.5,
    }
    body.update(changes)
    return body


def scenario(**changes: Any) -> Body:
    body: Body = {
        "title": "US and China sign a tech grand bargain",
        "question": "Will the US and China sign a deal covering chips and rare earths?",
        "opens_at": "2025-09-01T00:00:00Z",
        "deadline": "2026-06-30T00:00:00Z",
        "prior": 0.15,
        "rules": [rule()],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def decode(body: Any, type_: Any = ScenarioDefinition) -> Any:
    return msgspec.json.decode(msgspec.json.encode(body), type=type_)


def rejection(body: Any, type_: Any = ScenarioDefinition) -> str:
    with pytest.raises(msgspec.ValidationError) as caught:
        decode(body, type_)
    return str(caught.value)


def invalid(definition: ScenarioDefinition, opened_at: datetime | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_definition(definition, opened_at)
    return caught.value


# ---------------------------------------------------------------------------
# Slugs
# ---------------------------------------------------------------------------


class TestSlug:
    @pytest.mark.parametrize(
        "slug",
        ["abc", "a" * 80, "0ab", "us-china-deal", "a--", "9-9", "h200-sales-2026", "a" + "-" * 79],
    )
    def test_a_valid_slug_matches(self, slug: str) -> None:
        assert re.search(SLUG_PATTERN, slug)

    @pytest.mark.parametrize(
        "slug",
        [
            "",
            "a",
            "ab",
            "a" * 81,
            "-abc",
            "Abc",
            "abC",
            "ab_c",
            "ab c",
            "ab.c",
            "ab/c",
            "é-abc",
            " abc",
        ],
    )
    def test_an_invalid_slug_does_not_match(self, slug: str) -> None:
        assert re.search(SLUG_PATTERN, slug) is None

    def test_slugs_of_3_to_80_characters_match(self) -> None:
        lengths = [n for n in range(0, 90) if re.search(SLUG_PATTERN, "a" * n)]
        assert lengths == list(range(3, 81))

    @pytest.mark.parametrize("slug", ["abc\n", "us-china-deal\n"])
    def test_a_slug_ending_in_a_newline_does_not_match(self, slug: str) -> None:
        assert re.search(SLUG_PATTERN, slug) is None

    def test_the_slug_type_rejects_a_trailing_newline(self) -> None:
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert("abc\n", Slug)

    @pytest.mark.parametrize("slug", ["ab", "Abc", "a" * 81])
    def test_the_slug_type_rejects_what_the_pattern_rejects(self, slug: str) -> None:
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(slug, Slug)


# ---------------------------------------------------------------------------
# ScenarioDefinition bounds
# ---------------------------------------------------------------------------


class TestScenarioDefinition:
    def test_a_valid_definition_decodes(self) -> None:
        definition = decode(scenario())
        assert definition.prior == 0.15
        assert definition.rules[0].match.kinds() == ["export_approval"]

    def test_a_definition_round_trips_through_json(self) -> None:
        definition = decode(scenario(timing="none", prior_strength=4, tags=["chips"]))
        assert decode(msgspec.json.decode(msgspec.json.encode(definition))) == definition

    @pytest.mark.parametrize("prior", [0, 1, -0.1, 1.5])
    def test_a_prior_outside_the_open_unit_interval_is_rejected(self, prior: float) -> None:
        assert "at `$.prior`" in rejection(scenario(prior=prior))

    @pytest.mark.parametrize("prior", [0.5, 1e-9, 0.999999])
    def test_a_prior_inside_the_open_unit_interval_is_accepted(self, prior: float) -> None:
        assert decode(scenario(prior=prior)).prior == prior

    @pytest.mark.parametrize("strength", [0, -1])
    def test_a_prior_strength_that_is_not_positive_is_rejected(self, strength: float) -> None:
        assert "at `$.prior_strength`" in rejection(scenario(prior_strength=strength))

    def test_the_prior_strength_defaults_to_10(self) -> None:
        assert decode(scenario()).prior_strength == 10

    @pytest.mark.parametrize("timing", ["uniform", "none"])
    def test_timing_uniform_and_none_are_accepted(self, timing: str) -> None:
        assert decode(scenario(timing=timing)).timing == timing

    @pytest.mark.parametrize("timing", ["linear", "Uniform", "", None])
    def test_other_timings_are_rejected(self, timing: Any) -> None:
        body = scenario()
        body["timing"] = timing
        assert "at `$.timing`" in rejection(body)

    def test_timing_defaults_to_uniform(self) -> None:
        assert decode(scenario()).timing == "uniform"

    @pytest.mark.parametrize("field", ["title", "question", "deadline", "prior"])
    def test_a_missing_required_field_is_rejected(self, field: str) -> None:
        body = scenario()
        del body[field]
        assert f"missing required field `{field}`" in rejection(body)

    def test_opens_at_is_optional(self) -> None:
        assert decode(scenario(opens_at=None)).opens_at is None

    def test_an_unknown_field_is_rejected(self) -> None:
        assert "unknown field `id`" in rejection(scenario(id="abc"))

    @pytest.mark.parametrize("field", ["deadline", "opens_at"])
    def test_a_naive_time_is_rejected(self, field: str) -> None:
        assert f"at `$.{field}`" in rejection(scenario(**{field: "2026-06-30T00:00:00"}))

    def test_times_are_normalised_to_utc(self) -> None:
        definition = decode(
            scenario(opens_at="2025-09-01T08:00:00+08:00", deadline="2026-06-29T20:00:00-04:00")
        )
        assert definition.opens_at == T0.replace(month=9)
        assert definition.opens_at.tzinfo is UTC
        assert definition.deadline == datetime(2026, 6, 30, tzinfo=UTC)
        assert definition.deadline.tzinfo is UTC

    @pytest.mark.parametrize("field", ["title", "question"])
    def test_empty_text_is_rejected(self, field: str) -> None:
        assert f"at `$.{field}`" in rejection(scenario(**{field: ""}))


class TestRule:
    def test_the_uncertainty_defaults_to_0_35(self) -> None:
        assert decode(rule(), Rule).uncertainty == 0.35

    def test_the_repeat_discount_defaults_to_1(self) -> None:
        assert decode(rule(), Rule).repeat_discount == 1

    def test_the_half_life_defaults_to_none(self) -> None:
        assert decode(rule(), Rule).half_life_days is None

    @pytest.mark.parametrize("factor", [0, -1.5])
    def test_a_bayes_factor_that_is_not_positive_is_rejected(self, factor: float) -> None:
        message = rejection(scenario(rules=[rule(bayes_factor=factor)]))
        assert "at `$.rules[0].bayes_factor`" in message

    @pytest.mark.parametrize("factor", [1e-6, 0.5, 1, 40])
    def test_a_positive_bayes_factor_is_accepted(self, factor: float) -> None:
        assert decode(rule(bayes_factor=factor), Rule).bayes_factor == factor

    @pytest.mark.parametrize("discount", [0, -0.5, 1.01])
    def test_a_repeat_discount_outside_0_to_1_is_rejected(self, discount: float) -> None:
        message = rejection(scenario(rules=[rule(repeat_discount=discount)]))
        assert "at `$.rules[0].repeat_discount`" in message

    @pytest.mark.parametrize("discount", [1, 0.5, 1e-6])
    def test_a_repeat_discount_in_0_exclusive_to_1_inclusive_is_accepted(
        self, discount: float
    ) -> None:
        assert decode(rule(repeat_discount=discount), Rule).repeat_discount == discount

    def test_a_negative_uncertainty_is_rejected(self) -> None:
        message = rejection(scenario(rules=[rule(uncertainty=-0.1)]))
        assert "at `$.rules[0].uncertainty`" in message

    def test_a_zero_uncertainty_is_accepted(self) -> None:
        assert decode(rule(uncertainty=0), Rule).uncertainty == 0

    @pytest.mark.parametrize("half_life", [0, -3])
    def test_a_half_life_that_is_not_positive_is_rejected(self, half_life: float) -> None:
        message = rejection(scenario(rules=[rule(half_life_days=half_life)]))
        assert "at `$.rules[0].half_life_days`" in message

    def test_a_rule_without_a_bayes_factor_is_rejected(self) -> None:
        body = rule()
        del body["bayes_factor"]
        assert "missing required field `bayes_factor`" in rejection(body, Rule)

    def test_a_rule_with_an_unknown_field_is_rejected(self) -> None:
        message = rejection(scenario(rules=[rule(weight=2)]))
        assert "unknown field `weight`" in message
        assert "$.rules[0]" in message

    def test_a_rule_with_an_unknown_kind_is_rejected(self) -> None:
        message = rejection(scenario(rules=[rule(match={"kind": "coup"})]))
        assert "at `$.rules[0].match.kind`" in message


# ---------------------------------------------------------------------------
# Every model parameter's bounds (issue 13)
# ---------------------------------------------------------------------------

RULE_BOUNDS = [
    ("bayes_factor", BAYES_FACTOR),
    ("uncertainty", UNCERTAINTY),
    ("half_life_days", HALF_LIFE_DAYS),
    ("repeat_discount", REPEAT_DISCOUNT),
]
SCENARIO_BOUNDS = [("prior", PRIOR), ("prior_strength", PRIOR_STRENGTH)]


def just_outside(bounds: Bounds) -> list[float]:
    below = bounds.low * (1 - 1e-9) if bounds.low > 0 else -1e-9
    return [below, bounds.high * (1 + 1e-9) if bounds.high < 1 else bounds.high + 1e-9]


class TestModelBounds:
    def test_the_half_life_is_one_hour_to_a_hundred_years_as_model_md_says(self) -> None:
        assert (HALF_LIFE_DAYS.low, HALF_LIFE_DAYS.high) == (1 / 24, 36_500)

    @pytest.mark.parametrize("half_life", [1e-300, 3e-6, 0.04, 36_500.5])
    def test_a_half_life_outside_an_hour_to_36500_days_is_rejected(self, half_life: float) -> None:
        message = rejection(scenario(rules=[rule(half_life_days=half_life)]))
        assert "at `$.rules[0].half_life_days`" in message
        assert str(1 / 24) in message or "36500" in message

    @pytest.mark.parametrize(("field", "bounds"), RULE_BOUNDS)
    def test_a_rule_parameter_at_its_bounds_is_accepted(self, field: str, bounds: Bounds) -> None:
        for value in (bounds.low, bounds.high):
            assert getattr(decode(rule(**{field: value}), Rule), field) == value

    @pytest.mark.parametrize(("field", "bounds"), RULE_BOUNDS)
    def test_a_rule_parameter_outside_its_bounds_is_rejected_saying_what_is_allowed(
        self, field: str, bounds: Bounds
    ) -> None:
        for value in just_outside(bounds):
            message = rejection(scenario(rules=[rule(**{field: value})]))
            assert f"at `$.rules[0].{field}`" in message
            assert any(
                f"{op} {limit!r}" in message
                for op in (">=", "<=")
                for limit in (bounds.low, bounds.high)
            )

    @pytest.mark.parametrize(("field", "bounds"), SCENARIO_BOUNDS)
    def test_a_scenario_parameter_outside_its_bounds_is_rejected(
        self, field: str, bounds: Bounds
    ) -> None:
        for value in just_outside(bounds):
            assert f"at `$.{field}`" in rejection(scenario(**{field: value}))
        for value in (bounds.low, bounds.high):
            assert getattr(decode(scenario(**{field: value})), field) == value

    @pytest.mark.parametrize(("field", "bounds"), RULE_BOUNDS)
    def test_the_schema_states_every_rule_bound_and_describes_it(
        self, field: str, bounds: Bounds
    ) -> None:
        schema = msgspec.json.schema(Rule)["$defs"]["Rule"]["properties"][field]
        numeric = next(s for s in schema.get("anyOf", [schema]) if s.get("type") == "number")
        assert (numeric["minimum"], numeric["maximum"]) == (bounds.low, bounds.high)
        assert f"allowed: {bounds.text}" in numeric["description"]

    @pytest.mark.parametrize(("field", "bounds"), SCENARIO_BOUNDS)
    def test_the_schema_states_every_scenario_bound(self, field: str, bounds: Bounds) -> None:
        schema = msgspec.json.schema(ScenarioDefinition)["$defs"]["ScenarioDefinition"]
        numeric = schema["properties"][field]
        assert (numeric["minimum"], numeric["maximum"]) == (bounds.low, bounds.high)
        assert f"allowed: {bounds.text}" in numeric["description"]

    @pytest.mark.parametrize(
        ("value", "clamped"),
        [(1e-300, 1 / 24), (0.0, 1 / 24), (-5.0, 1 / 24), (1e9, 36_500), (30.0, 30.0)],
    )
    def test_a_stored_value_outside_the_bounds_is_clamped_into_them(
        self, value: float, clamped: float
    ) -> None:
        assert HALF_LIFE_DAYS.clamp(value) == clamped

    def test_nan_is_clamped_to_the_lower_bound(self) -> None:
        assert PRIOR.clamp(float("nan")) == PRIOR.low


# ---------------------------------------------------------------------------
# check_definition
# ---------------------------------------------------------------------------


class TestCheckDefinition:
    def test_a_valid_definition_passes(self) -> None:
        check_definition(decode(scenario()))

    def test_duplicate_rule_names_are_rejected_at_the_second(self) -> None:
        definition = decode(scenario(rules=[rule(), rule(bayes_factor=2)]))
        errors = invalid(definition).errors
        assert [e.field for e in errors] == ["rules[1].name"]
        assert "chip approvals" in errors[0].message

    def test_every_repeat_of_a_rule_name_is_reported(self) -> None:
        definition = decode(scenario(rules=[rule(), rule(name="other"), rule(), rule()]))
        assert [e.field for e in invalid(definition).errors] == ["rules[2].name", "rules[3].name"]

    def test_distinct_rule_names_pass(self) -> None:
        check_definition(decode(scenario(rules=[rule(), rule(name="chip approvals 2")])))

    def test_a_deadline_before_opens_at_is_rejected(self) -> None:
        definition = decode(scenario(opens_at="2026-07-01T00:00:00Z"))
        assert [e.field for e in invalid(definition).errors] == ["deadline"]

    def test_a_deadline_equal_to_opens_at_is_rejected(self) -> None:
        definition = decode(
            scenario(opens_at="2026-06-30T08:00:00+08:00", deadline="2026-06-30T00:00:00Z")
        )
        assert [e.field for e in invalid(definition).errors] == ["deadline"]

    def test_without_opens_at_the_deadline_is_checked_against_the_first_recording(self) -> None:
        definition = decode(scenario(opens_at=None, deadline="2025-06-30T00:00:00Z"))
        check_definition(definition, T0)
        errors = invalid(definition, T0.replace(year=2026)).errors
        assert [e.field for e in errors] == ["deadline"]

    def test_opens_at_takes_precedence_over_the_first_recording(self) -> None:
        definition = decode(scenario(opens_at="2025-01-01T00:00:00Z"))
        check_definition(definition, datetime(2030, 1, 1, tzinfo=UTC))

    def test_without_opens_at_or_first_recording_any_deadline_passes(self) -> None:
        check_definition(decode(scenario(opens_at=None, deadline="2000-01-01T00:00:00Z")))

    def test_a_rule_on_a_field_the_kind_lacks_is_reported_at_its_path(self) -> None:
        bad = rule(match={"kind": "export_approval", "where": {"share_pct": {"gt": 10}}})
        errors = invalid(decode(scenario(rules=[bad]))).errors
        assert [e.field for e in errors] == ["rules[0].match.where.share_pct"]
        assert "export_approval" in errors[0].message

    def test_a_bad_match_in_a_later_rule_is_reported_at_its_index(self) -> None:
        bad = rule(name="bans", match={"kind": "purchase_ban", "where": {"scope": "binding"}})
        errors = invalid(decode(scenario(rules=[rule(), bad]))).errors
        assert [e.field for e in errors] == ["rules[1].match.where.scope"]

    def test_several_problems_are_all_reported_at_once(self) -> None:
        definition = decode(
            scenario(
                opens_at="2027-01-01T00:00:00Z",
                rules=[
                    rule(match={"kind": "export_approval", "where": {"share_pct": 1}}),
                    rule(),
                    rule(name="x", match={"kind": "tariff_change", "where": {"sector": 3}}),
                ],
            )
        )
        caught = invalid(definition)
        assert sorted(e.field for e in caught.errors) == [
            "deadline",
            "rules[0].match.where.share_pct",
            "rules[1].name",
            "rules[2].match.where.sector",
        ]
        for error in caught.errors:
            assert error.field in caught.detail

    def test_invalid_input_is_not_a_conflict(self) -> None:
        caught = invalid(decode(scenario(rules=[rule(), rule()])))
        assert not isinstance(caught, Conflict)


# ---------------------------------------------------------------------------
# Resolutions and retractions
# ---------------------------------------------------------------------------


class TestResolution:
    @pytest.mark.parametrize("outcome", ["yes", "no", "annulled"])
    def test_the_three_outcomes_are_accepted(self, outcome: str) -> None:
        body = {"outcome": outcome, "resolved_at": "2026-01-01T00:00:00Z"}
        assert decode(body, Resolution).outcome == outcome

    @pytest.mark.parametrize("outcome", ["maybe", "YES", "", True])
    def test_another_outcome_is_rejected(self, outcome: Any) -> None:
        body = {"outcome": outcome, "resolved_at": "2026-01-01T00:00:00Z"}
        assert "at `$.outcome`" in rejection(body, Resolution)

    def test_resolved_at_is_required(self) -> None:
        assert "`resolved_at`" in rejection({"outcome": "yes"}, Resolution)

    def test_resolved_at_is_normalised_to_utc(self) -> None:
        body = {"outcome": "no", "resolved_at": "2026-01-01T08:00:00+08:00"}
        resolved_at = decode(body, Resolution).resolved_at
        assert resolved_at == datetime(2026, 1, 1, tzinfo=UTC)
        assert resolved_at.tzinfo is UTC

    def test_a_naive_resolved_at_is_rejected(self) -> None:
        body = {"outcome": "no", "resolved_at": "2026-01-01T08:00:00"}
        assert "at `$.resolved_at`" in rejection(body, Resolution)

    @pytest.mark.parametrize("reason", ["", "r" * 2001])
    def test_a_retraction_reason_of_bad_length_is_rejected(self, reason: str) -> None:
        assert "at `$.reason`" in rejection({"reason": reason}, Retraction)


# ---------------------------------------------------------------------------
# Records (domain/records.py)
# ---------------------------------------------------------------------------


class TestEventRecord:
    def test_a_recorded_event_keeps_its_id_body_and_recording_time(self) -> None:
        event_id = uuid4()
        record = EventRecord.record(event_id, '{"kind":"signal"}', T0)
        assert record.id == event_id
        assert record.body == '{"kind":"signal"}'
        assert record.created_on == T0
        assert record.version == 1
        assert record.retraction is None

    def test_a_retraction_is_version_2_and_keeps_the_reason(self) -> None:
        record = EventRecord.record(uuid4(), "{}", T0)
        record.retract("duplicate report", T0 + timedelta(days=1))
        assert record.version == 2
        assert record.retraction == "duplicate report"
        assert record.modified_on == T0 + timedelta(days=1)

    def test_retracting_twice_raises_already_retracted(self) -> None:
        record = EventRecord.record(uuid4(), "{}", T0)
        record.retract("first", T0 + timedelta(days=1))
        with pytest.raises(AlreadyRetracted):
            record.retract("second", T0 + timedelta(days=2))
        assert record.version == 2
        assert record.retraction == "first"

    def test_already_retracted_is_a_conflict(self) -> None:
        assert issubclass(AlreadyRetracted, Conflict)

    def test_the_pending_events_are_the_recording_and_the_retraction(self) -> None:
        record = EventRecord.record(uuid4(), "{}", T0)
        record.retract("r", T0 + timedelta(hours=1))
        pending = record.collect_events()
        assert [type(e) for e in pending] == [EventRecord.Recorded, EventRecord.Retracted]


class TestIdempotencyEventId:
    def test_is_deterministic(self) -> None:
        assert idempotency_event_id("key-1") == idempotency_event_id("key-1")
        assert idempotency_event_id("key-1", 3) == idempotency_event_id("key-1", 3)

    def test_differs_per_index_in_a_batch(self) -> None:
        ids = {idempotency_event_id("key-1", i) for i in range(1000)}
        assert len(ids) == 1000

    def test_a_single_append_differs_from_the_first_of_a_batch(self) -> None:
        assert idempotency_event_id("key-1") != idempotency_event_id("key-1", 0)

    def test_differs_per_key(self) -> None:
        assert idempotency_event_id("key-1") != idempotency_event_id("key-2")
        assert idempotency_event_id("key-1", 0) != idempotency_event_id("key-2", 0)


class TestScenarioRecord:
    def test_defining_a_scenario_is_version_1_under_an_id_from_the_slug(self) -> None:
        record = ScenarioRecord.define("us-china-deal", "v1", T0)
        assert record.version == 1
        assert record.id == scenario_record_id("us-china-deal")
        assert record.slug == "us-china-deal"
        assert record.body == "v1"

    def test_revising_bumps_the_version_and_replaces_the_body(self) -> None:
        record = ScenarioRecord.define("us-china-deal", "v1", T0)
        record.revise("v2", T0 + timedelta(days=1))
        assert record.version == 2
        assert record.body == "v2"
        record.revise("v3", T0 + timedelta(days=2))
        assert record.version == 3
        assert record.body == "v3"
        assert record.slug == "us-china-deal"

    def test_scenario_and_resolution_ids_are_deterministic_and_distinct(self) -> None:
        assert scenario_record_id("abc") == scenario_record_id("abc")
        assert scenario_record_id("abc") != scenario_record_id("abd")
        assert scenario_record_id("abc") != resolution_record_id("abc")

    def test_a_resolution_record_has_an_id_from_the_slug(self) -> None:
        record = ResolutionRecord.record("abc", '{"outcome":"yes"}', T0)
        assert record.id == resolution_record_id("abc")
        assert record.version == 1
        assert record.created_on == T0


# ---------------------------------------------------------------------------
# timing_shape and rule groups (issue 16)
# ---------------------------------------------------------------------------


class TestShapeAndGroups:
    def test_the_timing_shape_defaults_to_1_and_is_not_written_then(self) -> None:
        definition = decode(scenario())
        assert definition.timing_shape == 1.0
        assert b"timing_shape" not in msgspec.json.encode(definition)

    @pytest.mark.parametrize("shape", [0.1, 0.5, 3, 10])
    def test_a_timing_shape_from_0_1_to_10_is_accepted(self, shape: float) -> None:
        assert decode(scenario(timing_shape=shape)).timing_shape == shape

    @pytest.mark.parametrize("shape", [0.0999, 10.001, 0, -2])
    def test_a_timing_shape_outside_0_1_to_10_is_rejected(self, shape: float) -> None:
        assert "at `$.timing_shape`" in rejection(scenario(timing_shape=shape))

    def test_the_group_defaults_to_none_and_is_not_written_then(self) -> None:
        assert decode(rule(), Rule).group is None
        assert b"group" not in msgspec.json.encode(decode(rule(), Rule))

    @pytest.mark.parametrize("group", ["g", "beijing-steer", "x" * 100])
    def test_a_group_of_1_to_100_characters_is_accepted(self, group: str) -> None:
        assert decode(rule(group=group), Rule).group == group

    @pytest.mark.parametrize("group", ["", "x" * 101, 7])
    def test_another_group_is_rejected(self, group: Any) -> None:
        assert "at `$.rules[0].group`" in rejection(scenario(rules=[rule(group=group)]))

    def test_a_stored_version_without_the_fields_reads_as_a_1_and_no_groups(self) -> None:
        old = msgspec.json.encode(scenario(rules=[rule(), rule(name="other")]))
        definition = stored_definition(old)
        assert definition.timing_shape == 1.0
        assert [r.group for r in definition.rules] == [None, None]
        assert msgspec.json.encode(definition) == msgspec.json.encode(
            decode(scenario(rules=[rule(), rule(name="other")]))
        )

    @pytest.mark.parametrize(("stored", "read"), [(50.0, 10.0), (0.0, 0.1), (2.0, 2.0)])
    def test_a_stored_timing_shape_outside_its_bounds_is_clamped(
        self, stored: float, read: float
    ) -> None:
        assert (
            stored_definition(msgspec.json.encode(scenario(timing_shape=stored))).timing_shape
            == read
        )

    def test_the_timing_shape_bounds_are_0_1_to_10(self) -> None:
        assert (TIMING_SHAPE.low, TIMING_SHAPE.high, TIMING_SHAPE.text) == (0.1, 10.0, "0.1 to 10")
