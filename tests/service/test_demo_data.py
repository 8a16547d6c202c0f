"""The demo holds each real happening once: the timeline does not repeat what the
shipped history already records (issue 15, point 2, across the two demo files).

The history is the better-sourced record (reconstructed times, from the dataset),
so where both described one happening the timeline's copy was removed. Three
timeline events are kept beside their history twin because the history words the
fields differently and so does not carry the same evidence for the timeline
scenarios' rules; for those, no rule may count both as evidence."""

from uuid import UUID

from domain.duplicates import looks_alike
from domain.entries import EventEntry, LogEntry, ScenarioEntry
from domain.events import BaseEvent
from domain.matching import compile_match
from service.bootstrap import open_eventlog
from service.cli.main import load_demo
from service.commands.exchange import export_entries, read_jsonl
from service.demo import history_lines
from service.settings import Settings


def _timeline(n: int) -> UUID:
    return UUID(f"7f3a0000-0000-4000-8000-{n:012d}")


REMOVED = [
    (_timeline(1), UUID("e405f6af-759b-55f5-be05-013821505d61")),  # Ford licenses CATL LFP tech
    (_timeline(7), UUID("0e232ee5-c757-5e13-9da3-4d843a18402f")),  # 'Liberation Day' 34%
    (_timeline(9), UUID("bfd74e2d-c6b0-5a62-b698-4723eb5c80bf")),  # 145% takes effect
    (_timeline(10), UUID("6b2caa04-61ba-59ea-9aff-36a889aa2f3c")),  # H20 needs a licence
    (_timeline(12), UUID("02bf5b00-4d29-5294-9ee7-ac06894adf6f")),  # Geneva talks open
    (_timeline(13), UUID("29ef3461-33eb-5571-890a-a596f547a48c")),  # Geneva joint statement
    (_timeline(16), UUID("c6059fb2-c1c3-57e6-afe4-726c307f2b3e")),  # US tariff falls to 30%
    (_timeline(19), UUID("6d90f8ab-2607-5941-968b-00db7d34385e")),  # EDA curbs
    (_timeline(23), UUID("405de704-172e-55dd-8ba7-4188170847fa")),  # Trump-Xi call, 5 June
    (_timeline(27), UUID("22c61880-9663-52fb-8d3c-6d22f4cea18c")),  # London framework
    (_timeline(28), UUID("94811767-5087-5611-875b-34f2d0d050c9")),  # TikTok deadline extended
    (_timeline(30), UUID("9287f949-7cd0-5344-8213-2728f07dd875")),  # EDA curbs lifted
]
"""Same real happening in both files: the timeline's copy must be gone."""

KEPT = [
    (_timeline(8), UUID("b68552a4-f7ff-545d-8df4-7bb24e4cdedc")),  # rare-earth curbs, 4 April
    (_timeline(15), UUID("7f898fd6-c417-58cf-9847-09b8eb73f92f")),  # Huawei Ascend guidance
    (_timeline(36), UUID("d4eabf61-8b21-5721-920d-5b346da35851")),  # battery-tech curbs
]
"""Same happening, both kept: each is evidence for different rules, never for one rule."""


def _loaded(settings: Settings) -> list[LogEntry]:
    load_demo(settings)
    with open_eventlog(settings) as log:
        return list(export_entries(log))


def _history_ids() -> set[UUID]:
    return {
        entry.event.event_id
        for _, entry in read_jsonl(history_lines())
        if isinstance(entry, EventEntry)
    }


def test_no_timeline_event_looks_like_a_history_event(settings: Settings) -> None:
    events = [e.event for e in _loaded(settings) if isinstance(e, EventEntry)]
    history_ids = _history_ids()
    history = [e for e in events if e.event_id in history_ids]
    timeline = [e for e in events if e.event_id not in history_ids]
    assert len(history) == len(history_ids)
    alike = [(t.summary, h.summary) for t in timeline for h in history if looks_alike(t, h)]
    assert alike == []


def _counts(settings: Settings) -> tuple[dict[UUID, BaseEvent], list[ScenarioEntry]]:
    entries = _loaded(settings)
    events = {e.event.event_id: e.event for e in entries if isinstance(e, EventEntry)}
    return events, [e for e in entries if isinstance(e, ScenarioEntry)]


def _counted_by(scenario: ScenarioEntry, event: BaseEvent) -> set[str]:
    """The rules of ``scenario`` that count ``event`` as evidence (in its window)."""
    definition = scenario.definition
    opens_at = definition.opens_at or scenario.recorded_at
    assert opens_at is not None
    if not opens_at <= event.occurred_at <= definition.deadline:
        return set()
    return {rule.name for rule in definition.rules if compile_match(rule.match)(event)}


def test_a_happening_in_both_files_is_counted_once(settings: Settings) -> None:
    events, scenarios = _counts(settings)
    for timeline_id, history_id in REMOVED:
        assert history_id in events
        assert timeline_id not in events, events[timeline_id].summary
    for timeline_id, history_id in KEPT:
        twins = events[timeline_id], events[history_id]
        for scenario in scenarios:
            both = _counted_by(scenario, twins[0]) & _counted_by(scenario, twins[1])
            assert both == set(), (scenario.scenario_id, twins[0].summary)
