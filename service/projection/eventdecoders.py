"""Stored world-event bodies decoded for the index: in full only where a rule needs it.

To apply an event the index needs, of most events, only their kind, when they
occurred and the fields that name the happening (the look-alikes' identity,
``duplicates.identity_bytes``). Every field, with every bound of the API contract
checked (patterns, lengths, countries), is needed only where a current rule may
match: its predicate reads any field. The bodies in the store were checked when
they were appended, so checking them again at each replay buys nothing, and the
full decode was a fifth of a replay's CPU.

``decoder_for`` gives a decoder of the tagged union in which the kinds some rule
covers are the full structs (``domain.events``) and the others ``Identified``
ones: ``occurred_at`` and the kind's identifying fields, of the full fields' types
without their bounds, so an identified event has the same identity bytes as the
full one (a test holds them together).
"""

from datetime import datetime
from functools import lru_cache
from typing import Any, Union, cast, get_type_hints

import msgspec

from domain.duplicates import IDENTIFYING_FIELDS
from domain.events import KIND_TYPES


class Identified(msgspec.Struct, tag_field="kind", kw_only=True):
    """A world event as far as the index keeps it when no rule can match its kind."""

    occurred_at: datetime


def _identified(kind: str) -> type[Identified]:
    full = KIND_TYPES[kind]
    hints = get_type_hints(full)
    defaults = {f.name: f.default for f in msgspec.structs.fields(full)}
    fields = [
        (name, hints[name])
        if defaults[name] is msgspec.NODEFAULT
        else (name, hints[name], defaults[name])
        for name in IDENTIFYING_FIELDS[kind]
    ]
    made = msgspec.defstruct(
        f"Identified_{kind}", fields, bases=(Identified,), tag=kind, kw_only=True
    )
    return cast(type[Identified], made)


IDENTIFIED: dict[str, type[Identified]] = {kind: _identified(kind) for kind in KIND_TYPES}


@lru_cache(maxsize=64)
def decoder_for(full_kinds: frozenset[str]) -> msgspec.json.Decoder[Any]:
    """A decoder of stored world-event bodies: events of ``full_kinds`` as their
    ``domain.events`` struct, the others as ``Identified``."""
    types = tuple(KIND_TYPES[k] if k in full_kinds else IDENTIFIED[k] for k in KIND_TYPES)
    return msgspec.json.Decoder(Union[types])  # noqa: UP007
