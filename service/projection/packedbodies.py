"""The bodies of each kind's events, compressed in packs, for scans by kind.

A new scenario version, a preview's rescan (every keystroke in a rule editor)
and a backtest's what-ifs decode every event of some kinds. Reading those bodies
back from the store (``storedbodies``) doubled a scan's cost per event, and a
cache of whole bodies would have to hold the whole log to help. So a scan leaves
behind what it read: each full pack of ``PACK`` consecutive events of one kind
(by their order in that kind), as one zlib-compressed msgpack array of their
bodies. The JSON of events of one kind repeats its keys and most values, so a
pack costs 15-30 bytes per event on the benchmark corpus and about 80 with unique
summaries of several hundred characters; decompressing is about a microsecond
per event against several for a read from the store.

Packs are made by readers, not by the projection's thread, so a replay pays
nothing for them and a log that is never scanned holds none. Events never change
once applied: a pack, once made, is never stale, and two readers making the same
pack keep whichever was stored first.
"""

import zlib
from collections.abc import Sequence

import msgspec

PACK = 128
"""Events of one kind compressed together (larger packs compress better and
decompress faster per event, but a scan of the latest events of a kind then reads
more of them from the store until their pack is full)."""

LEVEL = 1
"""zlib's fastest level: level 6 saves a fifth of the bytes at twice the CPU."""

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[str])


class PackedBodies:
    """The packs of one kind's bodies made so far, by pack number (an event's place
    in its kind, divided by ``size``)."""

    def __init__(self, size: int = PACK) -> None:
        self.size = size
        self._packs: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self._packs)

    def get(self, number: int) -> list[str] | None:
        """The bodies of pack ``number``, or None if it was not made yet."""
        packed = self._packs.get(number)
        return None if packed is None else _decoder.decode(zlib.decompress(packed))

    def put(self, number: int, bodies: Sequence[str]) -> None:
        """Keep the ``size`` bodies of pack ``number`` (a full pack only)."""
        if len(bodies) != self.size:
            msg = f"a pack holds {self.size} bodies, not {len(bodies)}"
            raise ValueError(msg)
        if number not in self._packs:
            self._packs.setdefault(number, zlib.compress(_encoder.encode(bodies), LEVEL))

    def held_bytes(self) -> int:
        """The compressed bytes held (the packs' contents, without their overhead)."""
        return sum(len(p) for p in self._packs.values())
