"""The world events: twelve kinds in one msgspec tagged union (tag field ``kind``).

Every bound of the API contract is a msgspec constraint, so decoding a request
is also validating it, and the OpenAPI schema shows the same bounds. Bounds the
contract leaves open are chosen here and documented in the README: names are
1..200 characters, at most 32 tags of 1..64 characters, money at most 1e13 USD,
tariff rates at most 10,000 %.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args
from uuid import UUID

import msgspec
from msgspec import Meta, Struct

from domain.countries import Country

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Summary = Annotated[str, Meta(min_length=1, max_length=500)]
Tag = Annotated[str, Meta(min_length=1, max_length=64)]
Money = Annotated[float, Meta(ge=0, le=1e13, description="US dollars, non-negative")]
Percent = Annotated[float, Meta(ge=0, le=10_000, description="a percentage, non-negative")]
Share = Annotated[float, Meta(ge=0, le=100, description="a share in percent, 0..100")]
AwareTime = Annotated[datetime, Meta(tz=True, description="RFC 3339 with an offset")]
# "$(?!\n)": Python's "$" also matches before a final newline; ECMAScript's does not.
# The white space a URL may not contain is spelt out: it is Python's "\s", which
# also takes \x1c-\x1f and \x85 (ECMAScript's, in JSON Schema, does not).
_WHITE_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
Url = Annotated[str, Meta(max_length=2000, pattern=rf"^https?://[^{_WHITE_SPACE}]+$(?!\n)")]
ATTRIBUTE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$(?!\n)"
AttributeName = Annotated[str, Meta(pattern=ATTRIBUTE_NAME_PATTERN)]
AttributeValue = str | int | float | bool | list[str]

Category = Literal["ai_chip", "sme", "eda", "telecom", "materials", "other"]
PurchaseScope = Literal["advisory", "formal"]
TariffStatus = Literal["threatened", "announced", "effective", "suspended"]
Direction = Literal["up", "down", "flat"]
MaterialAction = Literal["impose", "ease", "suspend", "lift"]
VentureStage = Literal["talks", "announced", "plant_opened", "cancelled"]
NegotiationStage = Literal["call", "talks", "summit", "agreement", "breakdown"]


class Source(Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Name
    url: Url | None = None


class BaseEvent(
    Struct, tag_field="kind", forbid_unknown_fields=True, omit_defaults=True, kw_only=True
):
    """The fields every kind has. Times are normalised to UTC on decoding."""

    occurred_at: AwareTime
    summary: Summary
    source: Source | None = None
    event_id: UUID | None = None
    tags: Annotated[list[Tag], Meta(max_length=32)] = []

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is not UTC:
            self.occurred_at = self.occurred_at.astimezone(UTC)


class _ExportDecision(BaseEvent, kw_only=True):
    authority: Name
    category: Category
    product: Name
    destination: Country
    conditions: Annotated[str, Meta(max_length=2000)] | None = None


class ExportApproval(_ExportDecision, tag="export_approval", kw_only=True):
    pass


class ExportRestriction(_ExportDecision, tag="export_restriction", kw_only=True):
    pass


class PurchaseBan(BaseEvent, tag="purchase_ban", kw_only=True):
    authority: Name
    target_company: Name
    product: Name | None = None
    scope: PurchaseScope


class TariffChange(BaseEvent, tag="tariff_change", kw_only=True):
    """``direction`` is derived from the two rates; a client may omit it, and
    one that sends it must agree with the rates."""

    imposing: Country
    target: Annotated[list[Country], Meta(min_length=1, max_length=300)]
    sector: Name
    rate_before_pct: Percent
    rate_after_pct: Percent
    status: TariffStatus
    direction: Direction | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        derived = tariff_direction(self.rate_before_pct, self.rate_after_pct)
        if self.direction is not None and self.direction != derived:
            msg = f"`direction` is derived from the rates and would be {derived!r}"
            raise ValueError(msg)
        self.direction = derived


class LicensingDeal(BaseEvent, tag="licensing_deal", kw_only=True):
    licensor: Name
    licensee: Name
    licensor_country: Country
    licensee_country: Country
    sector: Name
    value_usd: Money | None = None


class MaterialExportControl(BaseEvent, tag="material_export_control", kw_only=True):
    authority: Name
    materials: Annotated[list[Name], Meta(min_length=1, max_length=100)]
    action: MaterialAction
    destination: Country | None = None


class JointVenture(BaseEvent, tag="joint_venture", kw_only=True):
    partners: Annotated[list[Name], Meta(min_length=1, max_length=20)]
    sector: Name
    location_country: Country
    stage: VentureStage
    value_usd: Money | None = None


class Negotiation(BaseEvent, tag="negotiation", kw_only=True):
    parties: Annotated[list[Name], Meta(min_length=1, max_length=50)]
    venue: Name | None = None
    stage: NegotiationStage


class Acquisition(BaseEvent, tag="acquisition", kw_only=True):
    acquirer: Name
    target: Name
    target_origin_country: Country
    value_usd: Money | None = None
    status: Name | None = None


class RegulatoryAction(BaseEvent, tag="regulatory_action", kw_only=True):
    authority: Name
    target_company: Name
    action: Name


class MarketShareReport(BaseEvent, tag="market_share_report", kw_only=True):
    company: Name
    market: Name
    share_pct: Share


class Signal(BaseEvent, tag="signal", kw_only=True):
    """For kinds not listed yet: a label and free attributes."""

    label: Name
    attributes: Annotated[dict[AttributeName, AttributeValue], Meta(max_length=64)] = {}


WorldEvent = (
    ExportApproval
    | ExportRestriction
    | PurchaseBan
    | TariffChange
    | LicensingDeal
    | MaterialExportControl
    | JointVenture
    | Negotiation
    | Acquisition
    | RegulatoryAction
    | MarketShareReport
    | Signal
)

EVENT_TYPES: tuple[type[BaseEvent], ...] = get_args(WorldEvent)
"""The kinds' structs, in the union's order: a new kind is one class and one line
of ``WorldEvent``; everything below is derived from it."""

KIND_TYPES: dict[str, type[BaseEvent]] = {
    str(msgspec.inspect.type_info(t).tag): t  # type: ignore[attr-defined]
    for t in EVENT_TYPES
}

if TYPE_CHECKING:
    EventKind = str
else:
    EventKind = Literal[tuple(KIND_TYPES)]
"""The tags, in the union's order (``Literal[("a", "b")]`` is ``Literal["a", "b"]``):
what msgspec and the OpenAPI schema check; to a type checker, a ``str``."""


class EventBatch(Struct, forbid_unknown_fields=True):
    events: Annotated[list[WorldEvent], Meta(min_length=1, max_length=1000)]


def tariff_direction(before: float, after: float) -> Direction:
    if after > before:
        return "up"
    if after < before:
        return "down"
    return "flat"


def kind_of(event: BaseEvent) -> str:
    """The tag of an event's kind."""
    return _KIND_BY_TYPE[type(event)]


_KIND_BY_TYPE: dict[type[BaseEvent], str] = {t: k for k, t in KIND_TYPES.items()}


class RetractedInfo(Struct, frozen=True):
    recorded_at: datetime
    reason: str


def _logged_type(event_type: type[BaseEvent]) -> type[Any]:
    """The kind's struct plus what the log adds: position, recorded_at, retracted, and
    (as the events API shows it) the ids of the earlier events it looks like."""
    return msgspec.defstruct(
        f"Logged{event_type.__name__}",
        [
            ("position", int, 0),
            ("recorded_at", datetime | None, None),
            ("retracted", RetractedInfo | None, None),
            ("possible_duplicates", list[UUID] | None, None),
        ],
        bases=(event_type,),
        tag=_KIND_BY_TYPE[event_type],
        kw_only=True,
        forbid_unknown_fields=True,
        omit_defaults=True,
        gc=False,  # held by the in-memory index by the million; they form no cycles
    )


LOGGED_TYPES: dict[str, type[Any]] = {k: _logged_type(t) for k, t in KIND_TYPES.items()}
for _kind, _logged in LOGGED_TYPES.items():
    _KIND_BY_TYPE[_logged] = _kind
LoggedEvent = Union[tuple(LOGGED_TYPES.values())]  # type: ignore[valid-type]  # noqa: UP007
