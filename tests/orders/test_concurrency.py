from __future__ import annotations

import pytest
from django.db import connection, transaction
from django_fsm import ConcurrentTransition

from orders.models import Order
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_two_concurrent_saves_of_the_same_order_raise_concurrent_transition():
    if connection.vendor != "postgresql":
        pytest.skip("optimistic locking is exercised on PostgreSQL (make test runs it there)")
    order = OrderFactory()
    first = Order.objects.get(pk=order.pk)
    second = Order.objects.get(pk=order.pk)
    first.place()
    first.save()
    second.cancel()
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        second.save()
    assert Order.objects.get(pk=order.pk).state == "placing"


def test_stale_copy_cannot_overwrite_state_on_any_backend():
    order = OrderFactory()
    first = Order.objects.get(pk=order.pk)
    second = Order.objects.get(pk=order.pk)
    first.place()
    first.save()
    second.cancel()
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        second.save()
