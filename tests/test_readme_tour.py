"""The README's tour adds new events: none of those it posts is a possible duplicate
(``domain.duplicates``) of an event of the demo it runs against (history and timeline), nor of one
it posted before."""

import json
import re
from pathlib import Path
from typing import Any

import msgspec

from domain.duplicates import looks_alike
from domain.events import BaseEvent, EventBatch, WorldEvent

ROOT = Path(__file__).resolve().parent.parent
TOUR_HEADING = "## A five-minute tour"


def tour_text() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(TOUR_HEADING) + len(TOUR_HEADING)
    end = readme.index("\n## ", start)
    return readme[start:end]


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def posted_events(text: str) -> list[BaseEvent]:
    """The events of every body the tour's commands send (``-d '…'``) that a valid
    append would store, in order; bodies that are not events, or are refused, are left out."""
    events: list[BaseEvent] = []
    for block in shell_blocks(text):
        for body in re.findall(r"-d '(\{.*?)'", block, flags=re.DOTALL):
            document = json.loads(body)
            if "events" in document:
                try:
                    events += msgspec.convert(document, EventBatch).events
                except msgspec.ValidationError:
                    continue
            elif "kind" in document:
                try:
                    events.append(msgspec.convert(document, WorldEvent))  # type: ignore[arg-type]
                except msgspec.ValidationError:
                    continue
    return events


def demo_events() -> list[BaseEvent]:
    """The events ``serve --demo`` loads: the real history's, then the timeline's."""
    demo = ROOT / "service" / "demo"
    lines = [
        line
        for name in ("history.jsonl", "timeline.jsonl")
        for line in (demo / name).read_text().splitlines()
    ]
    entries: list[dict[str, Any]] = [json.loads(line) for line in lines if line.strip()]
    return [
        msgspec.convert(e["event"], WorldEvent)  # type: ignore[arg-type]
        for e in entries
        if e["type"] == "event"
    ]


def test_the_tour_posts_events() -> None:
    assert len(posted_events(tour_text())) >= 5


def test_no_event_the_tour_posts_is_a_possible_duplicate() -> None:
    earlier = demo_events()
    assert len(earlier) > 50
    duplicates = []
    for event in posted_events(tour_text()):
        duplicates += [(event.summary, e.summary) for e in earlier if looks_alike(e, event)]
        earlier.append(event)
    assert duplicates == []
