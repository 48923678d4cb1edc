"""Output: ``table`` for people, ``json`` for programs (the default when stdout is not a
terminal).

JSON shapes, chosen so ``jq`` and the next command can consume them: always JSON Lines, one
compact object per line.
- a get or a change prints one line, one object;
- a list prints one line per item, written as each page arrives, so a walk of a million devices
  streams instead of waiting for the last page.
JSON keeps Capgo's raw values (bytes, ISO timestamps); tables show sizes and dates for people.

Objects are printed with Capgo's own field names (``disableAutoUpdate``, ``rolloutPercentageBps``)
so what a get prints is what a set accepts. Tables need every row to align their columns, so
they are printed once the walk ends; walks longer than a moment show a counter on stderr when
stderr is a terminal.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from pydantic import BaseModel

Format = Literal["table", "json"]
Row = Mapping[str, Any]

# A counter appears only once a walk has taken this long: short lists stay quiet.
PROGRESS_AFTER_SECONDS = 0.5
PROGRESS_EVERY_SECONDS = 0.2


def plain(model: BaseModel) -> dict[str, Any]:
    """A model as Capgo's JSON: its own field names, unknown fields kept."""
    return model.model_dump(mode="json", by_alias=True)


Kind = Literal["text", "bytes", "date"]


@dataclass(frozen=True)
class Column:
    header: str
    path: str  # dotted, e.g. "version.name"
    kind: Kind = "text"  # how a table shows it; JSON always has the raw value

    def value(self, row: Row) -> Any:
        value: Any = row
        for part in self.path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(value: float) -> str:
    """1536 → ``1.5 KiB``: binary units, three significant digits at most."""
    size, unit = float(value), 0
    while abs(size) >= 1024 and unit < len(_BYTE_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    if unit == 0:
        return f"{int(size)} B"
    return f"{size:.3g} {_BYTE_UNITS[unit]}"


def human_date(value: str) -> str:
    """An ISO timestamp as ``2025-10-28 05:46 UTC``; a plain date, or text that is not one, as
    it is."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if len(value) <= 10:  # a date without a time
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M UTC")


def shown(value: Any, kind: Kind) -> str:
    """A table cell: sizes and dates for people, the rest as `cell` writes it."""
    if kind == "bytes" and isinstance(value, int | float) and not isinstance(value, bool):
        return human_bytes(value)
    if kind == "date" and isinstance(value, str):
        return human_date(value)
    return cell(value)


def _kind_of_field(name: str) -> Kind:
    # Capgo names its timestamps *_at (created_at, expires_at, updated_at).
    return "date" if name.endswith(("_at", "At")) else "text"


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(cell(item) for item in value) or "-"
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def align(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


class Progress:
    """``\\r<n> devices…`` on a terminal, throttled; nothing elsewhere (logs stay clean)."""

    def __init__(self, stream: TextIO, noun: str) -> None:
        self._stream = stream
        self._noun = noun
        self._enabled = stream.isatty()
        self._started = self._last = time.monotonic()
        self._shown = False

    def update(self, count: int) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if (
            now - self._started < PROGRESS_AFTER_SECONDS
            or now - self._last < PROGRESS_EVERY_SECONDS
        ):
            return
        self._last = now
        self._shown = True
        self._stream.write(f"\r{count} {self._noun}…")
        self._stream.flush()

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()


async def _each(items: AsyncIterable[Row] | Iterable[Row]) -> AsyncIterable[Row]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


class Output:
    def __init__(self, fmt: Format, stdout: TextIO, stderr: TextIO) -> None:
        self.format = fmt
        self.stdout = stdout
        self.stderr = stderr

    def document(self, doc: Row, fields: Sequence[str] = ()) -> None:
        """One object: one JSON line, or ``field  value`` lines (``fields`` first, then the
        rest)."""
        if self.format == "json":
            self.stdout.write(json.dumps(doc, separators=(",", ":")) + "\n")
            return
        names = [*(f for f in fields if f in doc), *(k for k in doc if k not in fields)]
        if names:
            pairs = [[n, shown(doc[n], _kind_of_field(n))] for n in names]
            self.stdout.write("\n".join(align(pairs)) + "\n")

    async def rows(
        self, items: AsyncIterable[Row] | Iterable[Row], columns: Sequence[Column], noun: str
    ) -> int:
        """A list: JSON Lines as they come, or an aligned table at the end. Returns the count."""
        progress = Progress(self.stderr, noun)
        table: list[list[str]] = [[c.header for c in columns]]
        count = 0
        try:
            async for item in _each(items):
                count += 1
                if self.format == "json":
                    self.stdout.write(json.dumps(item, separators=(",", ":")) + "\n")
                else:
                    table.append([shown(c.value(item), c.kind) for c in columns])
                progress.update(count)
        finally:
            progress.finish()
        if self.format == "table":
            if count:
                self.stdout.write("\n".join(align(table)) + "\n")
            else:
                self.stderr.write(f"no {noun}\n")
        return count

    def done(self, message: str, doc: Row) -> None:
        """The outcome of a change: a sentence for people, Capgo's answer for programs."""
        if self.format == "json":
            self.document(doc)
        else:
            self.stdout.write(message + "\n")

    def note(self, message: str) -> None:
        """Side information (a file written): stderr, so stdout stays parseable."""
        self.stderr.write(message + "\n")
