"""Output: ``table`` for people, ``json`` for programs (the default when stdout is not a
terminal).

JSON shapes, chosen so ``jq`` and the next command can consume them:
- a get or a change prints one JSON document;
- a list prints JSON Lines, one object per line, written as each page arrives, so a walk of a
  million devices streams instead of waiting for the last page.

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


@dataclass(frozen=True)
class Column:
    header: str
    path: str  # dotted, e.g. "version.name"

    def value(self, row: Row) -> Any:
        value: Any = row
        for part in self.path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


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
        """One object: pretty JSON, or ``field  value`` lines (``fields`` first, then the rest)."""
        if self.format == "json":
            self.stdout.write(json.dumps(doc, indent=2) + "\n")
            return
        names = [*(f for f in fields if f in doc), *(k for k in doc if k not in fields)]
        if names:
            self.stdout.write("\n".join(align([[n, cell(doc[n])] for n in names])) + "\n")

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
                    table.append([cell(c.value(item)) for c in columns])
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
