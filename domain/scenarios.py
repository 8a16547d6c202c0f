"""Scenarios ("outcome by a deadline"), their evidence rules and resolutions.

The fields and bounds are those of the model: a slug id, a prior, a prior
strength, a deadline after the opening time, and rules whose matches are
validated against the fields each kind really has.

Every model parameter has closed bounds (``Bounds``), chosen so that the model's
numbers stay finite and its loops short whatever the data:

- ``half_life_days`` in [1/24, 36500] (model.md): an hour at least, so that a
  decay segment of ``forecasts.grid`` spans at least 200 hours and advances the
  time axis (a half-life of 1e-300 days froze a history read for good);
- ``bayes_factor`` in [1e-6, 1e6]: |ln B| <= 13.8 per match, symmetric;
- ``uncertainty`` in [0, 10]: (s * w)^2 <= 100 per match;
- ``repeat_discount`` in [1e-6, 1]: weights r^(k-1) in [0, 1] (powers only
  underflow to 0, never overflow);
- ``prior`` in [1e-12, 1 - 1e-12]: |logit p0| <= 27.7;
- ``timing_shape`` in [0.1, 10]: the time of the outcome has the distribution
  u^a on the window (model.md); a = 10 puts 99.9 % of it in the window's last
  half, a = 0.1 puts half of it in the first 0.1 %: beyond these, a forecast
  would say nothing more than "early" or "late";
- ``prior_strength`` in [1e-3, 1e6]: with the prior's bounds, p0 * n0 >= 1e-15,
  so the prior's variance trigamma(p0 n0) + trigamma((1 - p0) n0) <= 1e30 stays
  finite (below about 1e-154 it overflows to inf).

Versions stored before these bounds existed may hold values outside them (the
log is append-only): a stored definition is read with each parameter clamped
into its bounds (``domain.codecs``: ``stored_definition``; ``stored_request`` for
a backtest's what-if rules), so it decodes and models as the nearest allowed one;
and the model of any definition clamps them again (``service.projection.matchindex.model_of``).
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from domain.errors import FieldError, InvalidInput
from domain.events import AwareTime, Tag
from domain.matching import Match, validate_match


class Bounds:
    """A parameter's closed interval [low, high]."""

    def __init__(self, low: float, high: float, text: str) -> None:
        self.low = low
        self.high = high
        self.text = text

    def clamp(self, value: float) -> float:
        """``value`` moved into the bounds (NaN becomes ``low``)."""
        return self.low if not value >= self.low else min(value, self.high)

    def meta(self, description: str) -> Meta:
        return Meta(
            ge=self.low,
            le=self.high,
            description=f"{description}; allowed: {self.text}",
        )


HALF_LIFE_DAYS = Bounds(1 / 24, 36_500.0, "1/24 (one hour) to 36500 days")
BAYES_FACTOR = Bounds(1e-6, 1e6, "1e-6 to 1e6")
UNCERTAINTY = Bounds(0.0, 10.0, "0 to 10")
REPEAT_DISCOUNT = Bounds(1e-6, 1.0, "1e-6 to 1")
PRIOR = Bounds(1e-12, 1 - 1e-12, "1e-12 to 1 - 1e-12")
PRIOR_STRENGTH = Bounds(1e-3, 1e6, "0.001 to 1e6")
TIMING_SHAPE = Bounds(0.1, 10.0, "0.1 to 10")

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{2,79}$(?!\n)"
Slug = Annotated[str, Meta(pattern=SLUG_PATTERN, description="scenario id")]
Timing = Literal["uniform", "none"]
Outcome = Literal["yes", "no", "annulled"]


class Rule(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    match: Match
    bayes_factor: Annotated[
        float, BAYES_FACTOR.meta("B: P(match | outcome) / P(match | no outcome)")
    ]
    uncertainty: Annotated[float, UNCERTAINTY.meta("s: the standard deviation of ln B")] = 0.35
    half_life_days: (
        Annotated[
            float,
            HALF_LIFE_DAYS.meta("h: a match weighs 2^(-age/h); 1/24 is one hour; none: no decay"),
        ]
        | None
    ) = None
    repeat_discount: Annotated[
        float, REPEAT_DISCOUNT.meta("r: a match with rank k (in its group, if any) weighs r^(k-1)")
    ] = 1.0
    group: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=100,
                description=(
                    "rules of one group share one match count: a match with rank k among"
                    " the group's matches weighs r^(k-1) (correlated evidence counted once)"
                ),
            ),
        ]
        | None
    ) = None
    reasoning: Annotated[str, Meta(max_length=2000)] | None = None


class ScenarioDefinition(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """One version of a scenario, as sent to ``PUT /v1/scenarios/{id}``."""

    title: Annotated[str, Meta(min_length=1, max_length=200)]
    question: Annotated[str, Meta(min_length=1, max_length=2000)]
    deadline: AwareTime
    prior: Annotated[float, PRIOR.meta("p0: the probability at opens_at, before any evidence")]
    opens_at: AwareTime | None = None
    prior_strength: Annotated[
        float, PRIOR_STRENGTH.meta("n0: confidence in the prior, as pseudo-observations")
    ] = 10.0
    timing: Timing = "uniform"
    timing_shape: Annotated[
        float,
        TIMING_SHAPE.meta(
            "a: with uniform timing, the outcome's time has the distribution u^a on the"
            " window: 1 evenly, above 1 late, below 1 early"
        ),
    ] = 1.0
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


def check_resolution(resolution: Resolution, opens_at: datetime, now: datetime) -> None:
    """Raise InvalidInput unless ``resolved_at`` lies in [``opens_at``, ``now``]: a
    scenario resolves while it is open or at its deadline, never in the future."""
    if opens_at <= resolution.resolved_at <= now:
        return
    given, start, end = (_instant(t) for t in (resolution.resolved_at, opens_at, now))
    msg = f"must lie between the scenario's opens_at ({start}) and now ({end}); got {given}"
    raise InvalidInput([FieldError("resolved_at", msg)])


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_definition(definition: ScenarioDefinition, opened_at: datetime | None = None) -> None:
    """Raise InvalidInput with every problem msgspec's field bounds cannot see.

    ``opened_at`` is when the scenario's first version was recorded: the
    opening time when the definition names none.
    """
    errors: list[FieldError] = []
    opens = definition.opens_at or opened_at
    if opens is not None and definition.deadline <= opens:
        errors.append(FieldError("deadline", _deadline_message(definition, opens)))
    errors.extend(rule_errors(definition.rules, "rules"))
    if errors:
        raise InvalidInput(errors)


def _deadline_message(definition: ScenarioDefinition, opens: datetime) -> str:
    when = "opens_at" if definition.opens_at is not None else "the first version's recorded_at"
    return (
        f"must be after {when} ({opens.isoformat()}); "
        f"got {definition.deadline.astimezone(UTC).isoformat()}"
    )


def rule_errors(rules: list[Rule], path: str) -> list[FieldError]:
    """Duplicate rule names and matches that do not fit the kinds they name."""
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.name in seen:
            message = f"rule names are unique: {rule.name!r} is also {path}[{seen[rule.name]}].name"
            errors.append(FieldError(f"{path}[{i}].name", message))
        seen.setdefault(rule.name, i)
        errors.extend(validate_match(rule.match, f"{path}[{i}].match"))
    return errors


RULE_BOUNDS = {
    "bayes_factor": BAYES_FACTOR,
    "uncertainty": UNCERTAINTY,
    "half_life_days": HALF_LIFE_DAYS,
    "repeat_discount": REPEAT_DISCOUNT,
}
SCENARIO_BOUNDS = {"prior": PRIOR, "prior_strength": PRIOR_STRENGTH, "timing_shape": TIMING_SHAPE}


def clamp_fields(raw: dict[str, object], bounds: dict[str, Bounds]) -> None:
    """Clamp, in place, the named numeric fields of ``raw`` (plain JSON) into ``bounds``."""
    for name, bound in bounds.items():
        value = raw.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            raw[name] = bound.clamp(float(value))


def clamp_rules(raw_rules: object) -> None:
    """Clamp, in place, the parameters of stored rules (decoded as plain JSON)."""
    if isinstance(raw_rules, list):
        for raw in raw_rules:
            if isinstance(raw, dict):
                clamp_fields(raw, RULE_BOUNDS)
