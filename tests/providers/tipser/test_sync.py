"""Incoming sync: every page, idempotent, bulk (constant queries per page), remembers where."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from responses import matchers

from orders import services, snapshots
from orders.models import Order, OrderEvent, OrderItem, Shipment
from providers.tipser import mapping
from tests.factories import AccountFactory, MerchantFactory

from .conftest import API_KEY, ORDERS_URL, wire_order

pytestmark = pytest.mark.django_db


def _pages(mocked, orders, *, page_size, from_date=None):
    """Serve ``orders`` in pages like Tipser does (itemsCount = total)."""
    pages = [orders[i : i + page_size] for i in range(0, len(orders), page_size)] or [[]]
    for index, page in enumerate(pages):
        query = {
            "apiKey": API_KEY,
            "states": "0,1,2,3,4,6",
            "pageSize": str(page_size),
            "pageIndex": str(index),
        }
        if from_date:
            query["from"] = from_date
        mocked.add(
            responses.GET,
            ORDERS_URL,
            json={"itemsCount": len(orders), "pageIndex": index, "items": page},
            match=[matchers.query_param_matcher(query, strict_match=bool(from_date))],
        )
    return len(pages)


def test_sync_walks_every_page_and_creates_orders_with_items(mocked, account, tipser_merchant):
    orders = [wire_order(n, items=2) for n in range(5)]
    _pages(mocked, orders, page_size=2)
    totals = services.account_sync_incoming(account=account)
    assert totals["pages"] == 3 and totals["created"] == 5
    pages = [c.request.params["pageIndex"] for c in mocked.calls]
    # the first page (it tells the count) comes first; the others may be fetched in parallel
    assert pages[0] == "0" and sorted(pages[1:]) == ["1", "2"]
    assert Order.objects.filter(merchant=tipser_merchant).count() == 5
    assert OrderItem.objects.filter(order__merchant=tipser_merchant).count() == 10
    order = Order.objects.get(external_id="ord00003")
    assert order.reference == "TIP-30003" and order.state == "placed" and order.raw_status == "3"
    assert order.contact_name == "John Doe" and order.country == "US"
    assert order.ordered_at == dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    item = order.items.first()
    assert item.next_statuses == ["1", "2", "3", "6"] and item.state == "new"
    assert order.events.filter(kind=OrderEvent.Kind.SYNC).count() == 1


def test_full_last_page_ends_with_an_empty_page(mocked, account, tipser_merchant):
    _pages(mocked, [wire_order(n) for n in range(4)], page_size=2)
    mocked.add(
        responses.GET,
        ORDERS_URL,
        json={"itemsCount": 4, "pageIndex": 2, "items": []},
        match=[matchers.query_param_matcher({"pageIndex": "2"}, strict_match=False)],
    )
    totals = services.account_sync_incoming(account=account)
    assert totals["created"] == 4
    assert len(mocked.calls) == 2  # itemsCount said 4: no third request needed


def test_resync_creates_no_duplicates_and_keeps_local_work(
    mocked, account, tipser_merchant, operator
):
    orders = [wire_order(n) for n in range(3)]
    _pages(mocked, orders, page_size=2)
    services.account_sync_incoming(account=account)
    order = Order.objects.get(external_id="ord00001")
    services.order_note_add(order=order, text="Customer called", actor=operator)
    Order.objects.filter(pk=order.pk).update(provider_options={"gift": True})
    Shipment.objects.create(order=order, carrier="DHL", tracking_number="LOCAL-1")

    # The provider moved one item on; everything else is unchanged.
    orders[1]["items"][0].update(status=6, nextStatuses=[1, 2, 3])
    mocked.reset()
    _pages(mocked, orders, page_size=2)
    totals = services.account_sync_incoming(
        account=account, since=timezone.now() - dt.timedelta(days=9)
    )
    assert totals == {"pages": 2, "created": 0, "updated": 1, "unchanged": 2}
    assert Order.objects.filter(merchant=tipser_merchant).count() == 3
    assert OrderItem.objects.filter(order__merchant=tipser_merchant).count() == 3
    order.refresh_from_db()
    assert order.state == "in_progress" and order.provider_options == {"gift": True}
    assert order.items.get().state == "acknowledged"
    assert order.shipments.get().tracking_number == "LOCAL-1"
    assert order.events.filter(kind="note", message="Customer called").exists()


def _upsert_queries(account, orders) -> tuple[int, int]:
    """(queries, bulk operations). SQLite makes Django split one bulk insert/update into
    chunks of at most 999 parameters; consecutive chunks of one statement count as one
    operation. PostgreSQL has no such split below our batch sizes: there both are equal."""
    page = [mapping.parse_order(o) for o in orders]
    with CaptureQueriesContext(connection) as ctx:
        snapshots.upsert_page(account=account, page=page)
    operations, previous = 0, None
    for query in ctx.captured_queries:
        sql = query["sql"]
        match = re.match(r'(INSERT INTO|UPDATE) "(\w+)"', sql)
        shape = match.group(0) if match else None
        if shape is None or shape != previous:
            operations += 1
        previous = shape
    return len(ctx.captured_queries), operations


@pytest.mark.parametrize("items", [1, 3])
def test_queries_per_page_do_not_grow_with_page_size(db, items):
    from pipeline.selectors import pipeline_in_use

    pipeline_in_use()  # its once-a-minute query (cached) is not a query per page
    counts = {}
    for size in (5, 50):
        account = AccountFactory(provider="tipser")
        MerchantFactory(account=account)
        # own order numbers per account (overlapping ones get generated references: +1 query)
        orders = [wire_order(size * 100 + n, items=items) for n in range(size)]
        created = _upsert_queries(account, orders)
        unchanged = _upsert_queries(account, orders)
        for o in orders:  # every order changes at the provider
            for i in o["items"]:
                i.update(status=6, nextStatuses=[1, 2, 3])
        updated = _upsert_queries(account, orders)
        counts[size] = (created, unchanged, updated)
        assert Order.objects.filter(merchant__account=account).count() == size
        assert (
            OrderItem.objects.filter(order__merchant__account=account, state="acknowledged").count()
            == size * items
        )
    operations = {size: tuple(c[1] for c in per_size) for size, per_size in counts.items()}
    assert operations[5] == operations[50], counts
    if connection.vendor != "sqlite":
        assert counts[5] == counts[50], counts


def test_cursor_remembers_oldest_open_order_for_next_run(mocked, account, tipser_merchant):
    account.options = {"page_size": 5}
    account.save()
    now = timezone.now()
    old_open = wire_order(1, date=(now - dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    older_done = wire_order(
        2, status=2, date=(now - dt.timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    )
    start = (now - dt.timedelta(days=30)).date().isoformat()
    _pages(mocked, [older_done, old_open], page_size=5, from_date=start)
    services.account_sync_incoming(account=account)
    account.refresh_from_db()
    sync = account.state["sync"]
    assert sync["next_from"] == (now - dt.timedelta(days=5)).date().isoformat()
    assert "run" not in sync and sync["last_run"]

    # The next run asks for the open orders from the oldest order that was still open (and
    # for every state only since the previous run: tests/providers/tipser/test_periodic.py).
    mocked.reset()
    mocked.add(responses.GET, ORDERS_URL, json={"itemsCount": 1, "pageIndex": 0, "items": [old_open]})
    services.account_sync_incoming(account=account)
    assert mocked.calls[0].request.params["from"] == sync["next_from"]
    assert mocked.calls[0].request.params["states"] == "0,1,6"


def test_cursor_without_open_orders_starts_from_last_run_minus_margin(
    mocked, account, tipser_merchant
):
    _pages(mocked, [wire_order(1, status=3)], page_size=2)
    services.account_sync_incoming(account=account)
    account.refresh_from_db()
    assert (
        account.state["sync"]["next_from"]
        == (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    )


def test_interrupted_sync_resumes_at_the_page_it_reached(mocked, account, tipser_merchant):
    orders = [wire_order(n) for n in range(5)]
    mocked.add(
        responses.GET,
        ORDERS_URL,
        json={"itemsCount": 5, "pageIndex": 0, "items": orders[:2]},
        match=[matchers.query_param_matcher({"pageIndex": "0"}, strict_match=False)],
    )
    mocked.add(
        responses.GET,
        ORDERS_URL,
        status=503,
        match=[matchers.query_param_matcher({"pageIndex": "1"}, strict_match=False)],
    )
    from providers.errors import ProviderUnavailable

    with pytest.raises(ProviderUnavailable):
        services.account_sync_incoming(account=account)
    account.refresh_from_db()
    assert account.state["sync"]["run"]["page_index"] == 1
    mocked.reset()
    _pages(mocked, orders, page_size=2)
    mocked.calls.reset()
    services.account_sync_incoming(account=account)
    # the remaining pages are fetched in parallel: in any order
    assert sorted(c.request.params["pageIndex"] for c in mocked.calls) == ["1", "2"]
    assert Order.objects.filter(merchant=tipser_merchant).count() == 5


def test_garbage_page_fails_the_sync_without_writing(mocked, account, tipser_merchant):
    from providers.errors import ProviderBadReply

    mocked.add(responses.GET, ORDERS_URL, json={"orders": []})
    with pytest.raises(ProviderBadReply):
        services.account_sync_incoming(account=account)
    assert not Order.objects.filter(merchant=tipser_merchant).exists()


def test_a_failed_write_saves_the_cursor_of_the_last_written_page_not_the_page_read_ahead(
    mocked, account, tipser_merchant, monkeypatch
):
    orders = [wire_order(n) for n in range(6)]
    _pages(mocked, orders, page_size=2)
    real_upsert = snapshots.upsert_page
    written: list[int] = []

    def upsert_then_fail_on_the_second_page(**kwargs):  # type: ignore[no-untyped-def]
        if written:
            # the third page has been (or is being) read ahead by now: wait until it was asked
            # for, so the cursor we must not save exists
            for _ in range(200):
                if len(mocked.calls) == 3:
                    break
                import time

                time.sleep(0.01)
            assert len(mocked.calls) == 3
            raise RuntimeError("disk full")
        written.append(1)
        return real_upsert(**kwargs)

    monkeypatch.setattr(snapshots, "upsert_page", upsert_then_fail_on_the_second_page)
    with pytest.raises(RuntimeError, match="disk full"):
        services.account_sync_incoming(account=account)
    account.refresh_from_db()
    assert account.state["sync"]["run"]["page_index"] == 1  # page 0 written, not 2
    assert Order.objects.filter(merchant=tipser_merchant).count() == 2
    monkeypatch.setattr(snapshots, "upsert_page", real_upsert)
    mocked.calls.reset()
    services.account_sync_incoming(account=account)
    # the remaining pages are fetched in parallel: in any order
    assert sorted(c.request.params["pageIndex"] for c in mocked.calls) == ["1", "2"]
    assert Order.objects.filter(merchant=tipser_merchant).count() == 6


def test_existing_orders_are_looked_up_through_the_unique_index_on_sqlite(tipser_merchant):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner (PostgreSQL plans by statistics)")
    plan = snapshots._existing_orders(tipser_merchant, ["ord00001", "ord00002"]).explain()
    # not the merchant index, which walks every order of the merchant (7 ms a page at 10k)
    assert "uniq_order_external_id_per_merchant" in plan, plan


def test_a_generated_reference_that_is_taken_is_drawn_again(account, tipser_merchant, monkeypatch):
    """Two accounts with overlapping order numbers: the second gets generated references,
    and a generated one that is already taken (24 random bits a day) is drawn again."""
    from tests.factories import OrderFactory

    OrderFactory(reference="TIP-30001")  # another account's order with the same number
    OrderFactory(reference="DD-TAKEN")
    drawn = iter(["DD-TAKEN", "DD-FREE"])
    monkeypatch.setattr(snapshots, "new_reference", lambda: next(drawn))
    snapshots.upsert_page(account=account, page=[mapping.parse_order(wire_order(1))])
    assert Order.objects.get(merchant=tipser_merchant, external_id="ord00001").reference == "DD-FREE"
