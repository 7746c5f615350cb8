"""The order list's paginator: its total counted up to a cap, so a page costs the same at 1,000
or 100,000 orders (an exact COUNT reads every matching row: the "needs action" list at 100k
orders was 1.8× the same list at 1k, bench/bench_admin_changelist.py).

Above the cap the total is a ``CappedCount``: an int one above the cap (so the page links end
one page past what was counted — following them counts further) that reads "1,000+" wherever
the admin prints it (the pagination line, the search box's "N results", "Select all N").
"""

from __future__ import annotations

from typing import Any, cast

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from .. import selectors


class CappedCount(int):
    """More than ``cap`` rows: compares and counts pages as ``cap + 1``, prints "1,000+"."""

    cap: int

    def __new__(cls, cap: int) -> CappedCount:
        value = super().__new__(cls, cap + 1)
        value.cap = cap
        return value

    def __str__(self) -> str:
        return f"{self.cap:,}+"

    __repr__ = __str__


class CappedCountPaginator(Paginator):
    """``count`` is exact up to ``cap`` rows, a ``CappedCount`` above (one ``LIMIT`` query)."""

    def __init__(self, object_list: Any, per_page: int, orphans: int = 0,
                 allow_empty_first_page: bool = True, *, cap: int) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        queryset = cast(QuerySet[Any], self.object_list)  # the admin passes its queryset
        counted = selectors.counts_up_to({"n": queryset}, cap=self.cap)["n"]
        return CappedCount(self.cap) if counted > self.cap else counted


# Pages counted beyond the one asked for: its neighbours' links stay exact.
PAGES_AHEAD = 5


def cap_for_page(page: str | None, per_page: int) -> int:
    """The cap for a list opened at page ``page`` (1-based, as the admin's ``p``): the tab cap,
    or far enough past a deep page that the page and a few after it are counted."""
    number = int(page) if page and page.isdigit() else 1
    return max(selectors.TAB_COUNT_CAP, (number + PAGES_AHEAD) * per_page)
