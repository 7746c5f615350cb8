"""Walking Tipser's paged order list: pages fetched in parallel once their number is known.

Tipser answers ``{"itemsCount": n, "pageIndex": i, "items": [...]}``. After the first page the
number of pages is known, so the remaining pages are fetched by a few threads at once — at
most ``MAX_PARALLEL_PAGES``, and no more than the account's rate limit allows per second (the
limiter in ``providers.http`` paces every call anyway; more threads than calls per second
would only wait). Pages are *yielded in order*, so the caller's cursor (page reached, orders
seen) never runs ahead of what it was given.

Page size: we ask for ``LARGEST_PAGE_SIZE`` by default (see ``service.TipserService``).
Tipser's doc publishes no maximum; if Tipser answers fewer orders than asked while
``itemsCount`` says more remain, the size it used is taken as the page size (nothing is
skipped). Without ``itemsCount``, a page shorter than asked is the last.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

# The doc publishes no maximum page size. This is our guess, in one place: the sandbox caps
# at the same value; a provider that caps lower is detected (see the module docstring).
LARGEST_PAGE_SIZE = 500
MAX_PARALLEL_PAGES = 4


def parallel_for_rate(rate: float | None) -> int:
    """Threads for the page fetches: one per allowed call per second, at most the maximum."""
    if not rate or rate <= 0:
        return MAX_PARALLEL_PAGES
    return max(1, min(MAX_PARALLEL_PAGES, math.ceil(rate)))


def _count(body: Any) -> int | None:
    count = body.get("itemsCount") if isinstance(body, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _length(body: Any) -> int:
    items = body.get("items") if isinstance(body, dict) else None
    return len(items) if isinstance(items, list) else 0


def iter_pages(
    fetch: Callable[[int], Any], *, first_index: int, seen: int, page_size: int, parallel: int
) -> Iterator[tuple[int, Any, bool]]:
    """Yield ``(page_index, body, last)`` from ``first_index`` on, in order.

    ``fetch(index)`` returns one reply body and raises on errors: the pages before a failing
    one are yielded first, then its error is raised. ``seen`` is how many orders earlier pages
    of this run held (a resumed run). While page ``i`` is with the caller, pages
    ``i+1 … i+parallel`` are being fetched — never past the last page ``itemsCount`` implies.
    """
    pool: ThreadPoolExecutor | None = None
    pending: dict[int, Future[Any]] = {}
    index, submitted = first_index, first_index + 1
    try:
        while True:
            future = pending.pop(index, None)
            body = future.result() if future is not None else fetch(index)
            length, count = _length(body), _count(body)
            seen += length
            # without itemsCount a short page is the last; with it, having seen them all
            last = length == 0 or (length < page_size if count is None else seen >= count)
            yield index, body, last
            if last:
                return
            index += 1
            if parallel <= 1 or count is None:
                continue
            end = index + math.ceil((count - seen) / length)  # the size the provider used
            if pool is None and end - index > 1:
                pool = ThreadPoolExecutor(parallel, thread_name_prefix="tipser-page")
            if pool is None:
                continue
            submitted = max(submitted, index)
            while submitted < end and len(pending) < parallel:
                context = contextvars.copy_context()  # the log context (task, order, account)
                pending[submitted] = pool.submit(context.run, fetch, submitted)
                submitted += 1
    finally:
        for future in pending.values():
            future.cancel()
        if pool is not None:
            pool.shutdown(wait=True)
