"""The dashboard's orders per day: each order on the day it was created (local days, edges
included), split by its state now; older orders and future days are left out. Read from
``OrderDailyCount``, which the worker recounts (``order_daily_counts_refresh``): the same
numbers as counting the orders at the refresh, after any kind of write; a constant number of
queries; never counted yet → counted once by the page itself."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.dashboard import orders_per_day
from orders.models import Order, OrderDailyCount, OrderDailyCountRefresh
from orders.services import order_daily_counts_refresh
from tests.factories import OrderFactory

from .conftest import set_state

pytestmark = pytest.mark.django_db
HOME = reverse("admin:index")


@pytest.fixture(autouse=True)
def never_counted():
    """As on a fresh install before the beat's first tick (the test database's migration
    counted an empty order table at its own time)."""
    OrderDailyCountRefresh.objects.all().delete()
    OrderDailyCount.objects.all().delete()


def _at(order, when):
    Order.objects.filter(pk=order.pk).update(created_at=when)


def test_orders_per_day_by_state_with_day_edges(merchant, settings):
    settings.TIME_ZONE = "Europe/Stockholm"
    now = timezone.make_aware(dt.datetime(2026, 3, 20, 12, 0))
    midnight = timezone.make_aware(dt.datetime(2026, 3, 18))  # local midnight
    _at(set_state(OrderFactory(merchant=merchant), "failed"), midnight)  # 18th
    _at(set_state(OrderFactory(merchant=merchant), "failed"), midnight - dt.timedelta(seconds=1))
    _at(set_state(OrderFactory(merchant=merchant), "placed"), midnight + dt.timedelta(hours=23))
    _at(OrderFactory(merchant=merchant), now - dt.timedelta(days=40))  # before the 30 days
    _at(OrderFactory(merchant=merchant), now)  # today, a draft
    order_daily_counts_refresh(now=now)

    bars, as_of = orders_per_day(now=now)
    bars_by_day = {bar.day: bar for bar in bars}

    assert as_of == now
    assert len(bars_by_day) == 30 and max(bars_by_day) == dt.date(2026, 3, 20)
    day18, day17 = bars_by_day[dt.date(2026, 3, 18)], bars_by_day[dt.date(2026, 3, 17)]
    assert day18.total == 2 and {s: n for s, _l, n, _p in day18.segments} == {"placed": 1, "failed": 1}
    assert day17.total == 1 and day17.segments[0][0] == "failed"
    assert bars_by_day[dt.date(2026, 3, 20)].total == 1
    assert sum(b.total for b in bars) == 4


def _counted(now, days=30):
    """The chart counted the naive way: every order, on its local day, by its state now."""
    today = timezone.localdate(now)
    counts: Counter[tuple[dt.date, str]] = Counter()
    for created, state in Order.objects.values_list("created_at", "state"):
        day = timezone.localdate(created)
        if today - dt.timedelta(days=days - 1) <= day <= today:
            counts[day, state] += 1
    return counts


def _charted(now):
    return Counter({(bar.day, state): n for bar in orders_per_day(now=now)[0]
                    for state, _label, n, _pct in bar.segments})


def _seed(merchant, now, tag=""):
    """Orders today, yesterday (either side of midnight), across the month, at its edge and
    before it, written by save, QuerySet.update and bulk_create."""
    midnight = timezone.make_aware(dt.datetime.combine(timezone.localdate(now), dt.time.min))
    moments = [now, now - dt.timedelta(minutes=5), midnight, midnight - dt.timedelta(seconds=1),
               midnight - dt.timedelta(hours=23, minutes=50), midnight - dt.timedelta(days=1),
               now - dt.timedelta(days=12, hours=3), now - dt.timedelta(days=29, hours=1),
               now - dt.timedelta(days=31), now - dt.timedelta(days=90)]
    orders = []
    for k, when in enumerate(moments):
        order = set_state(OrderFactory(merchant=merchant), ("draft", "failed", "placed")[k % 3])
        _at(order, when)
        orders.append(order)
    template = OrderFactory.build(merchant=merchant)
    Order.objects.bulk_create([Order(**{f.attname: getattr(template, f.attname)
                                        for f in Order._meta.concrete_fields if f.attname != "id"}
                                     | {"created_at": when, "reference": f"BULK{tag}-{k}"})
                               for k, when in enumerate(moments)])
    return orders


def _table():
    return sorted(OrderDailyCount.objects.values_list("day", "state", "n"))


@pytest.mark.parametrize("zone", ["UTC", "Europe/Stockholm", "Asia/Kolkata", "America/St_Johns"])
def test_chart_equals_counting_the_orders_after_a_refresh(merchant, settings, zone):
    settings.TIME_ZONE = zone
    now = timezone.now().replace(microsecond=0)
    orders = _seed(merchant, now)
    order_daily_counts_refresh(now=now)
    before = _counted(now)
    assert _charted(now) == before and sum(before.values()) == 16

    failed = Order.objects.get(pk=orders[1].pk)  # yesterday or today, failed
    failed.reopen()  # a real FSM transition, saved
    failed.save()
    set_state(orders[0], "cancelled")  # today's draft, through QuerySet.update
    moved = list(Order.objects.filter(pk__in=[orders[2].pk, orders[4].pk]))
    for order in moved:  # the sync's bulk_update, a day moved too
        order.created_at -= dt.timedelta(days=1)
    Order.objects.bulk_update(moved, ["created_at", "state"])
    Order.objects.filter(pk=orders[6].pk).delete()
    assert _counted(now) != before
    assert _charted(now) == before  # as of the last refresh: the writers never touch the counts

    later = now + dt.timedelta(seconds=60)
    order_daily_counts_refresh(now=later)
    assert _charted(later) == _counted(later) == _counted(now)
    assert _counted(now)[timezone.localdate(now), "cancelled"] >= 1
    assert orders_per_day(now=later)[1] == later


def test_refresh_is_idempotent_and_replaces_only_its_window(merchant):
    now = timezone.now().replace(microsecond=0)
    _seed(merchant, now)
    old = OrderDailyCount.objects.create(day=timezone.localdate(now) - dt.timedelta(days=60),
                                         state="placed", n=7)  # left the window long ago
    first = order_daily_counts_refresh(now=now)
    table = _table()
    again = order_daily_counts_refresh(now=now + dt.timedelta(seconds=60))
    assert _table() == table and again.counts == first.counts and again.written
    assert sum(first.counts.values()) == 16 and (old.day, "placed", 7) in table  # 31 days: 16
    assert first.first_day == timezone.localdate(now) - dt.timedelta(days=30) <= min(first.counts)[0]
    stamp = OrderDailyCountRefresh.objects.get()
    assert stamp.refreshed_at == now + dt.timedelta(seconds=60) and stamp.time_zone == "UTC"

    stale = order_daily_counts_refresh(now=now)  # counted before a newer refresh committed
    assert not stale.written and OrderDailyCountRefresh.objects.get().refreshed_at == stamp.refreshed_at


def test_chart_reads_a_constant_number_of_rows_not_the_orders(merchant):
    now = timezone.now().replace(microsecond=0)
    _seed(merchant, now, "a")
    order_daily_counts_refresh(now=now)
    with CaptureQueriesContext(connection) as few:
        orders_per_day(now=now)
    for k in range(5):
        _seed(merchant, now, f"b{k}")
    order_daily_counts_refresh(now=now + dt.timedelta(seconds=1))
    with CaptureQueriesContext(connection) as many:
        bars, _as_of = orders_per_day(now=now)
    assert sum(bar.total for bar in bars) == sum(_counted(now).values()) == 6 * 16
    assert len(few.captured_queries) == len(many.captured_queries) == 2
    for query in many.captured_queries:
        assert '"orders_order"' not in query["sql"]
        assert '"orders_orderdailycount"' in query["sql"] or "refresh" in query["sql"]


def _as_of(html):
    found = re.search(r'class="dd-as-of"[^>]*>as of (\d\d:\d\d)</span>', html)
    assert found, "no 'as of HH:MM' beside the chart"
    return found.group(1)


def test_never_counted_the_page_counts_once_then_reads_the_table(admin_client, merchant, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    now = timezone.now()
    _seed(merchant, now)
    assert not OrderDailyCountRefresh.objects.exists()

    html = admin_client.get(HOME).content.decode()
    today = timezone.localdate(now)
    total = sum(n for (day, _state), n in _counted(now).items() if day == today)
    assert total and f'title="{today:%a} {today.day} {today:%b}: {total} orders' in html
    stamp = OrderDailyCountRefresh.objects.get()
    assert stamp.time_zone == "Asia/Kolkata" and sum(n for *_k, n in _table()) == 16
    assert _as_of(html) == timezone.localtime(stamp.refreshed_at).strftime("%H:%M")

    with CaptureQueriesContext(connection) as ctx:
        again = admin_client.get(HOME).content.decode()
    assert _as_of(again) == _as_of(html)  # the table as counted, not a second count
    assert OrderDailyCountRefresh.objects.get().refreshed_at == stamp.refreshed_at
    assert not any('"orders_orderdailycount"' in q["sql"] and "DELETE" in q["sql"]
                   for q in ctx.captured_queries)

    settings.TIME_ZONE = "Europe/Stockholm"  # counted in another zone: counted again
    admin_client.get(HOME)
    assert OrderDailyCountRefresh.objects.get().time_zone == "Europe/Stockholm"
