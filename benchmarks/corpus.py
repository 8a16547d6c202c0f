"""Synthetic scenarios and world events for the forecast benchmarks, made from the demo
timeline (``service/demo/timeline.jsonl``), and a fast in-process writer of whole stores.

Scenario ``k`` is a copy of demo scenario ``k % 11`` (its rules unchanged), open from
2025-01-01 to a deadline in 2027-2028, plus one rule of its own: signals labelled
``bench-k``. So an event copied from the demo matches the rules of every copy of the
scenarios it matched in the demo, and a ``bench-k`` signal matches scenario ``k`` only.

Events come from three pools: copies of the demo's events that match at least one rule
("matching"), ``bench-k`` signals, and variants of the demo's events with other countries,
labels or stages that match no rule ("noise"; checked with the service's own predicates).
Every copy gets its own summary and times. Bodies are the canonical JSON the service
stores (``service.commands.events.event_body``).
"""

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from domain.entries import EventEntry, LogEntry, ScenarioEntry
from domain.events import BaseEvent, Signal, WorldEvent, kind_of
from domain.matching import Match, Predicate, compile_match
from domain.records import EventRecord, ScenarioRecord
from domain.scenarios import Rule, ScenarioDefinition, check_definition
from service.commands.events import event_body
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.settings import Settings

OPENS_AT = datetime(2025, 1, 1, tzinfo=UTC)
FIRST_DEADLINE = datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC)
# Events occur between OPENS_AT and EVENTS_END and are recorded in log order over the
# same span, so every generated record is in the past.
EVENTS_END = datetime(2026, 11, 1, tzinfo=UTC)
CHUNK = 5000

_entry_decoder = msgspec.json.Decoder(LogEntry)
_event_decoder = msgspec.json.Decoder(WorldEvent)


def demo_entries() -> list[LogEntry]:
    text = resources.files("service.demo").joinpath("timeline.jsonl").read_bytes()
    return [_entry_decoder.decode(line) for line in text.splitlines() if line.strip()]


def bench_label(k: int) -> str:
    return f"bench-{k:03d}"


def scenario_definitions(count: int) -> list[tuple[str, ScenarioDefinition]]:
    """``count`` (slug, definition) pairs, valid for ``PUT /v1/scenarios/{slug}``."""
    templates = [e for e in demo_entries() if isinstance(e, ScenarioEntry)]
    scenarios = []
    for k in range(count):
        template = templates[k % len(templates)]
        own = Rule(
            name="bench-signal",
            match=Match(kind="signal", where={"label": bench_label(k)}),
            bayes_factor=1.25,
            half_life_days=180,
            reasoning="A synthetic signal that only this scenario watches.",
        )
        definition = msgspec.structs.replace(
            template.definition,
            title=f"{template.definition.title} (#{k})",
            opens_at=OPENS_AT,
            deadline=FIRST_DEADLINE + timedelta(days=30 * (k % 12)),
            rules=[*template.definition.rules, own],
        )
        check_definition(definition)
        scenarios.append((f"{template.scenario_id[:70]}-b{k:03d}", definition))
    return scenarios


# --- events -----------------------------------------------------------------------------

_NOISE_FIELDS: dict[str, dict[str, Any]] = {
    "export_approval": {"destination": "AE"},
    "export_restriction": {"destination": "RU"},
    "purchase_ban": {"authority": "Government of India", "target_company": "Xiaomi"},
    "tariff_change": {"target": ["MX"]},
    "licensing_deal": {"licensor_country": "KR"},
    "material_export_control": {"action": "ease", "materials": ["gallium"]},
    "joint_venture": {"sector": "shipbuilding", "location_country": "CN"},
    "negotiation": {"stage": "breakdown", "parties": ["EU", "JP"]},
    "acquisition": {"target_origin_country": "DE"},
    "regulatory_action": {"authority": "European Commission", "target_company": "Temu"},
    "market_share_report": {"company": "Huawei", "share_pct": 41.0},
}
_NOISE_LABELS = (
    "shipping_delay",
    "port_congestion",
    "analyst_note",
    "earnings_guidance",
    "supply_contract",
    "patent_filing",
)


def _noise_variants(event: BaseEvent) -> list[BaseEvent]:
    if isinstance(event, Signal):
        return [
            msgspec.structs.replace(event, label=label, attributes={**event.attributes, "n": i})
            for i, label in enumerate(_NOISE_LABELS)
        ]
    fields = _NOISE_FIELDS.get(kind_of(event))
    if fields is None:
        return []
    return [msgspec.structs.replace(event, **fields)]


@dataclass
class Pools:
    matching: list[BaseEvent]
    noise: dict[str, list[BaseEvent]]  # by kind: noise is drawn kind first, then template
    predicates: list[Predicate]

    def matched_rules(self, event: BaseEvent) -> int:
        return sum(1 for predicate in self.predicates if predicate(event))


def event_pools(scenarios: Sequence[tuple[str, ScenarioDefinition]]) -> Pools:
    """The demo's events split by whether any rule of ``scenarios`` matches them."""
    predicates = [compile_match(r.match) for _, d in scenarios for r in d.rules]
    demo = [
        msgspec.structs.replace(e.event, event_id=None)
        for e in demo_entries()
        if isinstance(e, EventEntry)
    ]
    pools = Pools([], {}, predicates)
    for event in demo:
        if pools.matched_rules(event):
            pools.matching.append(event)
        for variant in _noise_variants(event):
            if not pools.matched_rules(variant):
                pools.noise.setdefault(kind_of(variant), []).append(variant)
    return pools


@dataclass(frozen=True)
class Mix:
    """Shares of the events that are matching demo copies and ``bench-k`` signals;
    the rest is noise."""

    matching: float = 0.01
    bench_signals: float = 0.01


def event_bodies(
    count: int,
    scenarios: int,
    pools: Pools,
    mix: Mix = Mix(),
    seed: int = 4,
    end: datetime = EVENTS_END,
) -> Iterator[str]:
    """``count`` stored event bodies in log order; occurred_at grows along the log
    (with up to three days of jitter), between OPENS_AT and ``end``."""
    rng = random.Random(seed)
    noise = [pools.noise[kind] for kind in sorted(pools.noise)]
    start = OPENS_AT.timestamp()
    span = end.timestamp() - start
    signal = Signal(
        occurred_at=OPENS_AT,
        summary="x",
        label="x",
        source=None,
        tags=["bench"],
        attributes={"confidence": 0.7, "analyst": "desk"},
    )
    for seq in range(count):
        draw = rng.random()
        base = start + span * seq / max(1, count) - rng.random() * 259_200
        occurred = datetime.fromtimestamp(max(start, base), UTC)
        if draw < mix.bench_signals:
            k = rng.randrange(scenarios)
            event: BaseEvent = msgspec.structs.replace(
                signal,
                occurred_at=occurred,
                label=bench_label(k),
                summary=f"Synthetic signal {seq} watched by scenario {k}: an analyst's read "
                "of supply-chain and policy news, for the forecast benchmarks.",
            )
        else:
            if draw < mix.bench_signals + mix.matching:
                pool = pools.matching
            else:
                pool = noise[rng.randrange(len(noise))]
            template = pool[rng.randrange(len(pool))]
            event = msgspec.structs.replace(
                template, occurred_at=occurred, summary=f"{template.summary[:460]} [#{seq}]"
            )
        yield event_body(event)


# --- stores ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreInfo:
    scenarios: int
    events: int
    seconds: float
    matching_share: float


def _event_id(seq: int) -> UUID:
    return UUID(int=(0xBE7C << 112) | seq)


def write_store(
    data_dir: Path,
    *,
    scenarios: int,
    events: int,
    mix: Mix = Mix(),
    seed: int = 4,
) -> StoreInfo:
    """A new store: ``scenarios`` definitions first, then ``events`` world events, written
    in process with ``app.events.put`` in chunks of 5000 (recorded_at grows along the log)."""
    started = time.perf_counter()
    if (data_dir / "tradewinds.sqlite3").exists():
        msg = f"{data_dir} already holds a store"
        raise FileExistsError(msg)
    definitions = scenario_definitions(scenarios)
    pools = event_pools(definitions)
    app = TradewindsStore(env=eventsourcing_env(Settings(data_dir=data_dir)))
    try:
        first = OPENS_AT - timedelta(days=1)
        records = [
            ScenarioRecord.define(slug, msgspec.json.encode(d).decode(), first)
            for slug, d in definitions
        ]
        app.events.put([e for r in records for e in r.collect_events()])
        start, span = OPENS_AT.timestamp(), EVENTS_END.timestamp() - OPENS_AT.timestamp()
        chunk: list[EventRecord] = []
        bodies = event_bodies(events, scenarios, pools, mix, seed)
        for seq, body in enumerate(bodies):
            recorded = datetime.fromtimestamp(start + span * seq / max(1, events) + 3600, UTC)
            chunk.append(EventRecord.record(_event_id(seq), body, recorded))
            if len(chunk) == CHUNK:
                app.events.put([e for r in chunk for e in r.collect_events()])
                chunk = []
        if chunk:
            app.events.put([e for r in chunk for e in r.collect_events()])
    finally:
        app.close()
    return StoreInfo(
        scenarios=scenarios,
        events=events,
        seconds=time.perf_counter() - started,
        matching_share=mix.matching + mix.bench_signals,
    )
