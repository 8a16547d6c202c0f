"""The JSON Lines framing of export and import: one entry a line, numbered from 1,
and what an import reports (or the line it failed at)."""

from collections.abc import Iterable, Iterator
from typing import IO

import msgspec

from domain.codecs import log_entry_decoder as _entry_decoder
from domain.entries import LogEntry

_encoder = msgspec.json.Encoder()


class ImportFailed(Exception):
    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line


class ImportReport(msgspec.Struct):
    added: int = 0
    skipped: int = 0
    alerts_without_secret: list[str] = msgspec.field(default_factory=list)
    """Alerts not imported: they were exported without their webhook secret."""


def write_jsonl(entries: Iterable[LogEntry], out: IO[bytes]) -> int:
    count = 0
    for entry in entries:
        out.write(_encoder.encode(entry))
        out.write(b"\n")
        count += 1
    return count


def read_jsonl(lines: Iterable[bytes]) -> Iterator[tuple[int, LogEntry]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, _entry_decoder.decode(line)
        except msgspec.ValidationError as e:
            raise ImportFailed(number, str(e)) from None
        except msgspec.DecodeError as e:
            raise ImportFailed(number, f"not JSON: {e}") from None
