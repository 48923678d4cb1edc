"""Walking Capgo's offset-paged lists, which are served with a bug.

``/channel`` and ``/bundle`` compute their row range from the raw query-string ``page``
(Capgo's ``supabase/functions/_backend/public/channel/get.ts`` and ``…/bundle/get.ts``:
``.range(page*50, (page+1)*50-1)``): ``"1" + 1`` is ``"11"``, so ``?page=N`` (N ≥ 1) returns
rows ``50N … (10N+1)·50-1``, capped at PostgREST's 1,000 rows — oversized, overlapping windows.
A correct server returns rows ``50N … 50N+49``.

One walk serves both: remember the ids seen, ask next for the page whose window starts at the
first unseen row (``seen // page_size``), and stop on a short page or a page with nothing new.
Against the buggy server that skips the overlap; against a fixed one it is plain paging.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

PAGE_SIZE = 50


async def walk_offset_pages(
    fetch: Callable[[int], Awaitable[list[T]]],
    key: Callable[[T], Hashable],
    *,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[T]:
    """Yield every item once; ``fetch(page)`` returns one page (``[]`` past the end)."""
    seen: set[Hashable] = set()
    page = 0
    while True:
        items = await fetch(page)
        added = 0
        for item in items:
            item_key = key(item)
            if item_key in seen:
                continue
            seen.add(item_key)
            added += 1
            yield item
        if len(items) < page_size or added == 0:
            return
        page = max(page + 1, len(seen) // page_size)
