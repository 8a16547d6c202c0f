"""Scenarios ("outcome by a deadline"), their evidence rules and resolutions.

The fields and bounds are those of the model: a slug id, a prior in (0, 1), a
positive prior strength, a deadline after the opening time, and rules whose
matches are validated against the fields each kind really has.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from domain.errors import FieldError, InvalidInput
from domain.events import AwareTime, Tag
from domain.matching import Match, validate_match

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{2,79}$(?!\n)"
Slug = Annotated[str, Meta(pattern=SLUG_PATTERN, description="scenario id")]
Timing = Literal["uniform", "none"]
Outcome = Literal["yes", "no", "annulled"]


class Rule(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    match: Match
    bayes_factor: Annotated[float, Meta(gt=0, le=1e6)]
    uncertainty: Annotated[float, Meta(ge=0, le=10)] = 0.35
    half_life_days: Annotated[float, Meta(gt=0, le=36_500)] | None = None
    repeat_discount: Annotated[float, Meta(gt=0, le=1)] = 1.0
    reasoning: Annotated[str, Meta(max_length=2000)] | None = None


class ScenarioDefinition(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """One version of a scenario, as sent to ``PUT /v1/scenarios/{id}``."""

    title: Annotated[str, Meta(min_length=1, max_length=200)]
    question: Annotated[str, Meta(min_length=1, max_length=2000)]
    deadline: AwareTime
    prior: Annotated[float, Meta(gt=0, lt=1)]
    opens_at: AwareTime | None = None
    prior_strength: Annotated[float, Meta(gt=0, le=1e6)] = 10.0
    timing: Timing = "uniform"
    rules: Annotated[list[Rule], Meta(max_length=200)] = []
    tags: Annotated[list[Tag], Meta(max_length=32)] = []

    def __post_init__(self) -> None:
        self.deadline = self.deadline.astimezone(UTC)
        if self.opens_at is not None:
            self.opens_at = self.opens_at.astimezone(UTC)


class Resolution(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    outcome: Outcome
    resolved_at: AwareTime
    note: Annotated[str, Meta(max_length=2000)] | None = None

    def __post_init__(self) -> None:
        self.resolved_at = self.resolved_at.astimezone(UTC)


class Retraction(Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


def check_definition(definition: ScenarioDefinition, opened_at: datetime | None = None) -> None:
    """Raise InvalidInput with every problem msgspec's field bounds cannot see.

    ``opened_at`` is when the scenario's first version was recorded: the
    opening time when the definition names none.
    """
    errors: list[FieldError] = []
    opens = definition.opens_at or opened_at
    if opens is not None and definition.deadline <= opens:
        errors.append(FieldError("deadline", "must be after opens_at"))
    errors.extend(rule_errors(definition.rules, "rules"))
    if errors:
        raise InvalidInput(errors)


def rule_errors(rules: list[Rule], path: str) -> list[FieldError]:
    """Duplicate rule names and matches that do not fit the kinds they name."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            errors.append(FieldError(f"{path}[{i}].name", f"duplicate rule name {rule.name!r}"))
        seen.add(rule.name)
        errors.extend(validate_match(rule.match, f"{path}[{i}].match"))
    return errors
