"""Reading a Server-Sent Events stream with httpx, event by event."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Event:
    event: str
    data: Any
    id: str | None


def read_events(response: httpx.Response) -> Iterator[Event]:
    """The events of a streaming response (comments and ``retry:`` skipped)."""
    name, data, event_id = "message", [], None
    for line in response.iter_lines():
        if line == "":
            if data:
                yield Event(name, json.loads("\n".join(data)), event_id)
            name, data, event_id = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = value


class Stream:
    """One open stream; ``last_id`` is what a browser would send as Last-Event-ID."""

    def __init__(self, client: httpx.Client, params: Any = None, last_id: str | None = None):
        headers = {} if last_id is None else {"Last-Event-ID": last_id}
        self._context = client.stream("GET", "/v1/forecasts/stream", params=params, headers=headers)
        self.response = self._context.__enter__()
        assert self.response.status_code == 200, self.response.read()
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self._events = read_events(self.response)
        self.last_id = last_id

    def next(self) -> Event:
        event = next(self._events)
        if event.id is not None:
            self.last_id = event.id
        return event

    def until(self, scenario_id: str, position: int) -> list[Event]:
        """Every event up to the forecast of ``scenario_id`` moved by ``position``."""
        seen = []
        while True:
            event = self.next()
            seen.append(event)
            data = event.data
            if (
                event.event == "forecast"
                and data["scenario_id"] == scenario_id
                and data["position"] >= position
            ):
                return seen

    def initial_state(self) -> list[Event]:
        """The reset event and the state that follows it (up to the event with an id)."""
        first = self.next()
        assert first.event == "reset", first
        seen = [first]
        while seen[-1].id is None:
            seen.append(self.next())
        return seen

    def close(self) -> None:
        self._context.__exit__(None, None, None)
