"""The ids of the records in the log.

Each record's id is chosen so that the store's own uniqueness enforces a rule
of the contract without a read-then-write race:

- an ``EventRecord`` has the world event's ``event_id``: a second append of that
  id collides at version 1; its retraction is version 2, so a second retraction
  collides too;
- a ``ScenarioRecord`` has an id derived from the slug, one version per
  definition;
- a ``ResolutionRecord`` has an id derived from the slug: resolving twice
  collides;
- a ``RequestRecord`` has an id derived from an ``Idempotency-Key`` and holds
  the fingerprint of the request first sent with it, saved in the same
  transaction as that request's events: reusing the key collides, and the
  fingerprint tells a retry (same request) from a conflict (another one).
"""

import json
from uuid import NAMESPACE_URL, UUID, uuid5

_NAMESPACE = uuid5(NAMESPACE_URL, "https://tradewinds.invalid/log")


def scenario_record_id(slug: str) -> UUID:
    return uuid5(_NAMESPACE, f"scenario:{slug}")


def resolution_record_id(slug: str) -> UUID:
    return uuid5(_NAMESPACE, f"resolution:{slug}")


def idempotency_event_id(key: str, index: int | None = None) -> UUID:
    """The event id an ``Idempotency-Key`` stands for (the i-th of a batch). The parts
    are JSON-encoded, so no key can spell another key's index."""
    return uuid5(_NAMESPACE, json.dumps(["idempotency-key", key, index]))


def request_record_id(key: str) -> UUID:
    return uuid5(_NAMESPACE, json.dumps(["request", key]))


def alert_record_id(slug: str) -> UUID:
    return uuid5(_NAMESPACE, f"alert:{slug}")


def delivery_record_id(alert: str, version: int, scenario_id: str, change: str) -> UUID:
    """One delivery per alert version, scenario and change (a position, or a tick):
    replicas that see the same change record it once."""
    return uuid5(_NAMESPACE, json.dumps(["delivery", alert, version, scenario_id, change]))
