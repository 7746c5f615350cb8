"""The dashboard's orders per day: each order on the day it was created (local days, edges
included), split by its state now; older orders and future days are left out. Read from the
daily or hourly counts the database keeps (``OrderDailyCount``, ``OrderHourlyCount``): the same numbers as counting the
orders, after any kind of write."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from orders.dashboard import orders_per_day
from orders.models import Order, OrderDailyCount, OrderHourlyCount
from tests.factories import OrderFactory

from .conftest import set_state

pytestmark = pytest.mark.django_db


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

    bars = {bar.day: bar for bar in orders_per_day(now=now)}

    assert len(bars) == 30 and max(bars) == dt.date(2026, 3, 20)
    day18, day17 = bars[dt.date(2026, 3, 18)], bars[dt.date(2026, 3, 17)]
    assert day18.total == 2 and {s: n for s, _l, n, _p in day18.segments} == {"placed": 1, "failed": 1}
    assert day17.total == 1 and day17.segments[0][0] == "failed"
    assert bars[dt.date(2026, 3, 20)].total == 1
    assert sum(b.total for b in bars.values()) == 4


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
    return Counter({(bar.day, state): n for bar in orders_per_day(now=now)
                    for state, _label, n, _pct in bar.segments})


def _seed(merchant, now):
    """Orders today, yesterday (either side of midnight), across the month and before it,
    written by every path that writes orders: save, bulk_create, QuerySet.update, a real FSM
    transition, bulk_update (the sync's), delete."""
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
                                     | {"created_at": when, "reference": f"BULK-{k}"})
                               for k, when in enumerate(moments)])
    return orders


@pytest.mark.parametrize("zone", ["UTC", "Europe/Stockholm", "Asia/Kolkata", "America/St_Johns"])
def test_chart_equals_counting_the_orders_after_every_kind_of_write(merchant, settings, zone):
    settings.TIME_ZONE = zone
    now = timezone.now().replace(microsecond=0)
    orders = _seed(merchant, now)
    assert _charted(now) == _counted(now) and sum(_counted(now).values()) == 16

    failed = Order.objects.get(pk=orders[1].pk)  # yesterday or today, failed
    failed.reopen()  # a real FSM transition, saved
    failed.save()
    set_state(orders[0], "cancelled")  # today's draft, through QuerySet.update
    moved = list(Order.objects.filter(pk__in=[orders[2].pk, orders[4].pk]))
    for order in moved:  # the sync's bulk_update, a day moved too
        order.created_at -= dt.timedelta(days=1)
    Order.objects.bulk_update(moved, ["created_at", "state"])
    Order.objects.filter(pk=orders[6].pk).delete()
    assert Order.objects.get(pk=orders[1].pk).state == "draft"

    assert _charted(now) == _counted(now)
    assert _counted(now)[timezone.localdate(now), "cancelled"] >= 1


def test_chart_reads_the_rollup_not_the_orders(merchant, settings):
    """Constant in rows: one query; UTC days read the daily counts (days × states rows), other
    whole-hour zones the hourly counts (24 rows per day and state); a half-hour zone also
    counts the edge hours' orders."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    _seed(merchant, now)
    for zone, table in (("UTC", "orders_orderdailycount"), ("Europe/Stockholm", "orders_orderhourlycount"),
                        ("Asia/Kolkata", "orders_orderhourlycount")):
        settings.TIME_ZONE = zone
        with CaptureQueriesContext(connection) as ctx:
            orders_per_day(now=now)
        assert len(ctx.captured_queries) == 1
        sql = ctx.captured_queries[0]["sql"]
        assert f'"{table}"' in sql and ('"orders_order"' in sql) is (zone == "Asia/Kolkata"), zone
    assert OrderHourlyCount.objects.filter(n__gt=0).count() <= 2 * 10  # hours × states seeded
    assert OrderDailyCount.objects.filter(n__gt=0).count() <= 2 * 10
