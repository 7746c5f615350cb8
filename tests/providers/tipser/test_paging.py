"""Tipser's order list: known pages fetched in parallel, yielded in order, nothing skipped."""

from __future__ import annotations

import threading
import time

import pytest
import responses

from orders import services
from orders.models import Order
from providers.tipser import paging

from .conftest import ORDERS_URL, wire_order

pytestmark = pytest.mark.django_db


def _body(index: int, per_page: int, total: int) -> dict:
    start = index * per_page
    ids = range(start, min(total, start + per_page))
    return {"itemsCount": total, "pageIndex": index, "items": [{"id": str(n)} for n in ids]}


def test_known_pages_are_fetched_in_parallel_and_yielded_in_order():
    active, peak, lock = [0], [0], threading.Lock()

    def fetch(index: int) -> dict:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return _body(index, 10, 95)

    pages = list(paging.iter_pages(fetch, first_index=0, seen=0, page_size=10, parallel=3))
    assert [p[0] for p in pages] == list(range(10))
    assert [p[2] for p in pages] == [False] * 9 + [True]
    assert sum(len(p[1]["items"]) for p in pages) == 95
    assert 2 <= peak[0] <= 3


def test_one_thread_per_allowed_call_per_second():
    assert paging.parallel_for_rate(1) == 1
    assert paging.parallel_for_rate(2.5) == 3
    assert paging.parallel_for_rate(50) == paging.MAX_PARALLEL_PAGES
    assert paging.parallel_for_rate(0) == paging.MAX_PARALLEL_PAGES  # unlimited


def test_a_failing_page_comes_after_the_pages_before_it():
    def fetch(index: int) -> dict:
        if index == 3:
            raise RuntimeError("page 3 failed")
        return _body(index, 10, 60)

    got = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for index, *_rest in paging.iter_pages(
            fetch, first_index=0, seen=0, page_size=10, parallel=4
        ):
            got.append(index)
    assert got == [0, 1, 2]


def test_a_provider_that_pages_smaller_than_asked_loses_nothing(mocked, account, tipser_merchant):
    """We ask for 500 a page; the provider answers 2 at a time but says 5 exist."""
    account.options = {}  # the default page size: the largest we ask for
    account.save()
    orders = [wire_order(n) for n in range(5)]
    for index in range(3):
        mocked.add(
            responses.GET,
            ORDERS_URL,
            json={"itemsCount": 5, "pageIndex": index, "items": orders[2 * index : 2 * index + 2]},
            match=[
                responses.matchers.query_param_matcher(
                    {"pageIndex": str(index), "pageSize": str(paging.LARGEST_PAGE_SIZE)},
                    strict_match=False,
                )
            ],
        )
    totals = services.account_sync_incoming(account=account)
    assert totals["created"] == 5
    assert Order.objects.filter(merchant=tipser_merchant).count() == 5
    assert sorted(c.request.params["pageIndex"] for c in mocked.calls) == ["0", "1", "2"]
