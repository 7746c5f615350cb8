"""The dashboard's orders per day: each order on the day it was created (local days, edges
included), split by its state now; older orders and future days are left out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from orders.dashboard import orders_per_day
from orders.models import Order
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
