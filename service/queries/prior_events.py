"""How many matching events fell before a scenario's ``opens_at``: the model leaves
them out (the prior already holds what was known when the scenario opened), so the
scenario answer says how many there are rather than drop them silently."""

from bisect import bisect_left
from collections.abc import Mapping
from operator import attrgetter
from uuid import UUID

from service.projection.index import LogIndex
from service.projection.versions import VersionMatches

_OCCURRED = attrgetter("occurred")


def count_before_opens(version: VersionMatches, retracted: Mapping[UUID, float]) -> int:
    """The events matched by any rule of ``version`` that occurred before its
    ``opens_at`` and are not retracted, each counted once. Each rule's matches are
    in ``ORDER`` (by occurred), so only those before the opening are read."""
    opens = version.model.opens_at
    before: set[UUID] = set()
    for rule_matches in version.matches:
        for match in rule_matches[: bisect_left(rule_matches, opens, key=_OCCURRED)]:
            if match.event_id not in retracted:
                before.add(match.event_id)
    return len(before)


def before_opens(index: LogIndex, versions: Mapping[str, int]) -> dict[str, int]:
    """Per scenario, ``count_before_opens`` of the given version (the one an answer
    shows: the projection may have recorded a newer one since); 0 if unknown."""
    counts: dict[str, int] = {}
    with index.reading():
        matches = index.matches
        for slug, number in versions.items():
            scenario = matches.scenarios.get(slug)
            found = [v for v in scenario.versions if v.version == number] if scenario else []
            counts[slug] = count_before_opens(found[0], matches.retracted) if found else 0
    return counts
