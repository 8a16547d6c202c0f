"""The index decodes in full only the events of kinds a current rule may match; the
others keep what the index needs (``eventdecoders.Identified``): the same identity,
the same look-alikes, and matches as a scan from scratch finds them across revisions."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
from eventsourcing.persistence import Tracking
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.codecs import world_event_decoder
from domain.duplicates import identity
from domain.events import KIND_TYPES, BaseEvent
from service.projection.duplicates import identity_bytes, key_identity
from service.projection.eventdecoders import Identified, decoder_for
from service.projection.index import LogIndex
from service.projection.matchindex import scan
from tests.service.events_data import approval, scenario, signal
from tests.service.test_duplicate_identities import _bodies, _demo_twice

RECORDED = datetime(2026, 1, 1, tzinfo=UTC)
_lean = decoder_for(frozenset())


def _valid_demo_bodies() -> list[bytes]:
    """The demo's events, again as second reports and a week later
    (``_demo_twice``), those a client could send (shouted enums are not)."""
    found = []
    for event in _demo_twice():
        body = msgspec.json.encode(event)
        try:
            world_event_decoder.decode(body)
        except msgspec.ValidationError:
            continue
        found.append(body)
    return found


def _assert_same_identity(body: bytes) -> None:
    full = world_event_decoder.decode(body)
    lean = _lean.decode(body)
    assert isinstance(lean, Identified)
    assert lean.__struct_config__.tag == full.__struct_config__.tag
    assert lean.occurred_at.timestamp() == full.occurred_at.timestamp()
    assert key_identity(lean) == key_identity(full) == identity(full)
    assert identity_bytes(lean) == identity_bytes(full)


def test_identified_demo_events_have_the_full_events_identity() -> None:
    bodies = _valid_demo_bodies()
    kinds = {world_event_decoder.decode(b).__struct_config__.tag for b in bodies}
    assert kinds >= set(KIND_TYPES) - {"purchase_ban"}
    for body in bodies:
        _assert_same_identity(body)


@settings(max_examples=60, deadline=None)
@given(st.lists(_bodies, min_size=1, max_size=10))
def test_identified_events_have_the_full_events_identity(bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        _assert_same_identity(msgspec.json.encode(body))


def test_the_kinds_rules_cover_are_decoded_in_full() -> None:
    decode = decoder_for(frozenset({"signal"})).decode
    assert type(decode(msgspec.json.encode(signal("x")))) is KIND_TYPES["signal"]
    assert isinstance(decode(msgspec.json.encode(approval())), Identified)


def _rule(kind: str | list[str]) -> dict[str, Any]:
    return {"name": "on its kinds", "match": {"kind": kind}, "bayes_factor": 2}


def _definition(*kinds: str | list[str]) -> str:
    return msgspec.json.encode(scenario(rules=[_rule(k) for k in kinds])).decode()


class _Log:
    """An index fed records in log order."""

    def __init__(self) -> None:
        self.index = LogIndex()
        self.position = 0
        self.ids: dict[str, UUID] = {}

    def events(self, bodies: list[dict[str, Any]]) -> None:
        records = []
        for body in bodies:
            self.position += 1
            at = RECORDED + timedelta(seconds=self.position)
            text = msgspec.json.encode(body).decode()
            records.append((uuid4().bytes, text, at, self.position))
        self.index.add_events(records)

    def version(self, slug: str, *kinds: str | list[str]) -> None:
        self.position += 1
        first = slug not in self.ids
        record_id = self.ids.setdefault(slug, uuid4())
        number = 1 if first else len(self.index.scenarios[slug].versions) + 1
        self.index.add_scenario_version(
            record_id,
            slug if first else None,
            number,
            _definition(*kinds),
            RECORDED + timedelta(seconds=self.position),
            Tracking("tradewinds", self.position),
        )


def _mixed(count: int, hours: int = 0) -> list[dict[str, Any]]:
    start = datetime(2025, 10, 1, tzinfo=UTC) + timedelta(hours=hours)
    return [
        (approval(summary=f"a {i}") if i % 2 else signal(f"s{i % 3}"))
        | {"occurred_at": (start + timedelta(minutes=i)).isoformat()}
        for i in range(count)
    ]


def test_ruled_kinds_follow_the_current_versions() -> None:
    log = _Log()
    assert log.index.matches.ruled_kinds == frozenset()
    log.version("a", "signal")
    log.version("b", ["export_approval", "negotiation"], "signal")
    assert log.index.matches.ruled_kinds == {"signal", "export_approval", "negotiation"}
    log.version("a", "tariff_change")
    assert log.index.matches.ruled_kinds == {
        "signal",
        "export_approval",
        "negotiation",
        "tariff_change",
    }
    log.version("b", "acquisition")
    assert log.index.matches.ruled_kinds == {"tariff_change", "acquisition"}


def test_matches_across_revisions_are_those_of_a_scan_from_scratch() -> None:
    """Events applied before a rule covers their kind (decoded lean) are found by the
    version's scan; those applied after, by the live match (decoded in full)."""
    log = _Log()
    log.events(_mixed(50))
    log.version("deal", "signal")
    log.events(_mixed(50, hours=1))
    log.version("deal", "export_approval")
    log.events(_mixed(50, hours=2))
    log.version("other", "signal")
    log.events(_mixed(50, hours=3))
    index = log.index
    for slug in ("deal", "other"):
        current = index.matches.scenarios[slug].versions[-1]
        rules = current.definition.rules
        kinds = frozenset(k for rule in rules for k in rule.match.kinds())
        expected = scan(rules, index.table.of_kinds(kinds))
        assert current.found == expected
        assert all(len(found) == 100 for found in expected)


def test_look_alikes_are_the_same_whether_a_rule_covers_the_kind_or_not() -> None:
    bodies = [msgspec.json.decode(body) for body in _valid_demo_bodies()]
    lean, full = _Log(), _Log()
    full.version("all", list(KIND_TYPES))
    lean.events(bodies)
    full.events(bodies)
    assert full.index.matches.ruled_kinds == set(KIND_TYPES)

    def named(log: _Log) -> list[list[int]]:
        table = log.index.table
        shown = table.all_shown(range(len(table)))
        return [[table.position(i) - (log is full) for i in e.possible_duplicates] for e in shown]

    found = named(lean)
    assert any(found), "the demo has look-alikes"
    assert found == named(full)


def test_a_full_event_is_a_base_event() -> None:
    """What the live match is handed (``MatchIndex.add_event``) is the domain's struct."""
    decode = decoder_for(frozenset(KIND_TYPES)).decode
    assert all(isinstance(decode(body), BaseEvent) for body in _valid_demo_bodies())
