"""Alerts: which forecast changes are worth a webhook, as pure rules.

A condition is one of
- ``{"crosses": p}``: the probability moved from one side of ``p`` to the other
  (either direction; ``after == p`` counts as reaching it from below);
- ``{"moves_by": d, "within": "P1D"}``: the probability is now at least ``d``
  away from what was served ``within`` ago, and the previous value was not (it
  fires on the change that gets there, not on every change while it stays).
"""

from datetime import timedelta
from typing import Annotated

from msgspec import Meta, Struct

from domain.errors import FieldError, InvalidInput
from domain.scenarios import Slug

MAX_WINDOW = timedelta(days=366)
MAX_SCENARIOS = 200


class Condition(Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    crosses: Annotated[float, Meta(gt=0, lt=1)] | None = None
    moves_by: Annotated[float, Meta(gt=0, le=1)] | None = None
    within: timedelta | None = None


class AlertDefinition(Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of ``PUT /v1/alerts/{id}`` (the secret is stored, never shown)."""

    scenario_ids: Annotated[list[Slug], Meta(min_length=1, max_length=MAX_SCENARIOS)] | None = None
    condition: Condition
    url: Annotated[str, Meta(min_length=1, max_length=2000)]
    secret: Annotated[str, Meta(min_length=1, max_length=512)]


_ONE_KIND = (
    "state exactly one of `crosses` (a probability to cross) or `moves_by` "
    "(a distance, with `within`)"
)
_WITHIN_ALONE = "`within` goes only with `moves_by`; `crosses` takes no window"
_WITHIN_MISSING = "`moves_by` needs `within`: an ISO 8601 duration such as P1D, at most P366D"
_WITHIN_RANGE = "must be a positive duration, at most P366D"


def check_condition(condition: Condition) -> None:
    """``InvalidInput`` unless exactly one kind of condition is stated, completely."""
    errors: list[FieldError] = []
    if (condition.crosses is None) == (condition.moves_by is None):
        errors.append(FieldError("condition", _ONE_KIND))
    elif condition.crosses is not None and condition.within is not None:
        errors.append(FieldError("condition.within", _WITHIN_ALONE))
    elif condition.moves_by is not None:
        if condition.within is None:
            errors.append(FieldError("condition.within", _WITHIN_MISSING))
        elif not timedelta(0) < condition.within <= MAX_WINDOW:
            errors.append(FieldError("condition.within", _WITHIN_RANGE))
    if errors:
        raise InvalidInput(errors)


def unknown_scenario_errors(scenario_ids: list[str], unknown: set[str]) -> list[FieldError]:
    """One error per listed scenario that does not exist (``unknown``), at its index.

    Scenarios are never deleted, so a scenario an alert names when it is defined
    exists for as long as the alert does."""
    return [
        FieldError(
            f"scenario_ids[{i}]",
            f"no scenario `{slug}`: an alert watches scenarios that exist "
            f"(define it first with PUT /v1/scenarios/{slug}, or leave `scenario_ids` out "
            "to watch every scenario)",
        )
        for i, slug in enumerate(scenario_ids)
        if slug in unknown
    ]


def crosses(threshold: float, before: float | None, after: float | None) -> bool:
    """``after`` is on the other side of ``threshold`` than ``before``."""
    if before is None or after is None:
        return False
    return (before < threshold) != (after < threshold)


def moves_by(
    distance: float, reference: float | None, before: float | None, after: float | None
) -> bool:
    """``after`` is ``distance`` or more from ``reference`` (the value ``within`` ago)
    and ``before`` was not."""
    if reference is None or after is None:
        return False
    if abs(after - reference) < distance:
        return False
    return before is None or abs(before - reference) < distance


def fires(
    condition: Condition, before: float | None, after: float | None, reference: float | None
) -> bool:
    """Whether a change from ``before`` to ``after`` fires ``condition``; ``reference``
    is the probability served ``condition.within`` ago (for ``moves_by``)."""
    if condition.crosses is not None:
        return crosses(condition.crosses, before, after)
    if condition.moves_by is not None:
        return moves_by(condition.moves_by, reference, before, after)
    return False
