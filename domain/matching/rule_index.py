"""Which rules an event matches, without testing every rule: rules grouped by
their match, and groups filed under the value of one equality condition."""

import math
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

import msgspec

from domain.events import BaseEvent
from domain.matching.grammar import FieldSpec, Match, operator_and_argument, shared_spec
from domain.matching.predicates import Predicate, compile_match, field_getter

K = TypeVar("K", bound=Hashable)


def _selectivity(spec: FieldSpec) -> float:
    """How many values a field can take (free text and numbers: unbounded)."""
    if spec.type == "bool":
        return 2
    return math.inf if spec.allowed is None else len(spec.allowed)


def _index_field(match: Match) -> tuple[str, FieldSpec, list[Any]] | None:
    """The equality (or ``in``) condition to file ``match`` under: a typed, non-time
    field every listed kind shares, one of whose values an event must hold; the one
    with the most possible values when there are several."""
    kinds = match.kinds()
    best: tuple[str, FieldSpec, list[Any]] | None = None
    for field, condition in match.where.items():
        op, arg = operator_and_argument(condition)
        spec = shared_spec(kinds, field)
        if op not in ("eq", "in") or spec is None or spec.type in ("any", "time"):
            continue
        values = arg if isinstance(arg, list) else [arg]
        if best is None or _selectivity(spec) > _selectivity(best[1]):
            best = (field, spec, values)
    return best


class _Group(Generic[K]):
    """The rules that share one match: tested once per event."""

    __slots__ = ("filed", "keys", "predicate")

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate
        self.keys: dict[K, None] = {}
        self.filed: list[tuple[str, str | None, Any]] = []


class _FieldIndex(Generic[K]):
    """The groups filed under one field of one kind, by value."""

    __slots__ = ("by_value", "get", "is_list")

    def __init__(self, field: str, is_list: bool) -> None:
        self.get = field_getter(field)
        self.is_list = is_list
        self.by_value: dict[Any, list[_Group[K]]] = {}

    def candidates(self, event: BaseEvent) -> list[_Group[K]]:
        value = self.get(event)
        if value is None:
            return []
        if not self.is_list:
            return self.by_value.get(value, [])
        found: dict[int, _Group[K]] = {}
        for item in value:
            for group in self.by_value.get(item, ()):
                found[id(group)] = group
        return list(found.values())


class RuleIndex(Generic[K]):
    """Which rules an event matches, without testing every rule.

    Rules with the same match form one group whose predicate is tested once per
    event. A group with an equality (or ``in``) condition is filed under its
    kinds, that field and those values, so an event is tested only against the
    groups one of whose values it holds; other groups are tested against every
    event of their kinds.
    """

    def __init__(self) -> None:
        self._groups: dict[bytes, _Group[K]] = {}
        self._group_of: dict[K, bytes] = {}
        self._unkeyed: dict[str, list[_Group[K]]] = {}
        self._keyed: dict[str, dict[str, _FieldIndex[K]]] = {}

    def add(self, key: K, match: Match) -> None:
        canonical = msgspec.json.encode(match, order="sorted")
        group = self._groups.get(canonical)
        if group is None:
            group = self._groups[canonical] = _Group(compile_match(match))
            self._file(group, match)
        group.keys[key] = None
        self._group_of[key] = canonical

    def _file(self, group: _Group[K], match: Match) -> None:
        indexed = _index_field(match)
        for kind in match.kinds():
            if indexed is None:
                self._unkeyed.setdefault(kind, []).append(group)
                group.filed.append((kind, None, None))
                continue
            field, spec, values = indexed
            fields = self._keyed.setdefault(kind, {})
            index = fields.get(field)
            if index is None:
                index = fields[field] = _FieldIndex(field, spec.is_list)
            for value in dict.fromkeys(values):  # once each: equal values meet in one key
                index.by_value.setdefault(value, []).append(group)
                group.filed.append((kind, field, value))

    def remove(self, key: K) -> None:
        canonical = self._group_of.pop(key, None)
        if canonical is None:
            return
        group = self._groups[canonical]
        del group.keys[key]
        if group.keys:
            return
        del self._groups[canonical]
        for kind, field, value in group.filed:
            if field is None:
                self._unkeyed[kind].remove(group)
            else:
                self._keyed[kind][field].by_value[value].remove(group)

    def matching(self, event: BaseEvent) -> list[K]:
        """The keys of every rule whose match holds for ``event``."""
        kind = event.__struct_config__.tag
        found: list[K] = []
        if not isinstance(kind, str):
            return found
        for group in self._unkeyed.get(kind, ()):
            if group.predicate(event):
                found.extend(group.keys)
        for index in self._keyed.get(kind, {}).values():
            for group in index.candidates(event):
                if group.predicate(event):
                    found.extend(group.keys)
        return found
