"""When two world events look like the same happening reported twice.

Two events *look alike* when they are of the same kind, occurred at most a day
apart, and agree on the identifying fields of their kind (``IDENTIFYING_FIELDS``):
text compared without case and surrounding white space, lists in any order. The
service still stores such an event (the analyst may mean it) and names the stored
look-alikes in its answer; this module only says what "looks alike" means.
"""

from collections.abc import Hashable
from datetime import timedelta

from domain.events import BaseEvent, kind_of

WINDOW = timedelta(hours=24)
"""The furthest apart two look-alikes may have occurred (inclusive)."""

IDENTIFYING_FIELDS: dict[str, tuple[str, ...]] = {
    "export_approval": ("authority", "product", "destination"),
    "export_restriction": ("authority", "product", "destination"),
    "purchase_ban": ("authority", "target_company"),
    "tariff_change": ("imposing", "target", "sector", "status"),
    "licensing_deal": ("licensor", "licensee"),
    "material_export_control": ("authority", "materials", "action"),
    "joint_venture": ("partners", "stage"),
    "negotiation": ("parties", "stage"),
    "acquisition": ("acquirer", "target"),
    "regulatory_action": ("authority", "target_company", "action"),
    "market_share_report": ("company", "market"),
    "signal": ("label",),
}
"""What names the happening an event reports, per kind: who acted on what. Amounts,
rates, summaries, sources and tags are left out: two reports of one happening
often disagree on them."""

Identity = tuple[Hashable, ...]


def normalised(value: Hashable | list[Hashable]) -> Hashable:
    """A field as compared: text without case or surrounding spaces, lists in any order."""
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, list):
        return tuple(sorted(str(normalised(item)) for item in value))
    return value


def identity(event: BaseEvent) -> Identity:
    """The kind and the normalised identifying fields: equal for look-alikes."""
    kind = kind_of(event)
    return (kind, *(normalised(getattr(event, name)) for name in IDENTIFYING_FIELDS[kind]))


def within_window(a: BaseEvent, b: BaseEvent) -> bool:
    return abs(a.occurred_at - b.occurred_at) <= WINDOW


def looks_alike(a: BaseEvent, b: BaseEvent) -> bool:
    """Whether ``b`` looks like a second report of ``a`` (symmetric)."""
    return within_window(a, b) and identity(a) == identity(b)
