"""refresh_from_db of FSM-protected models is safe in a threaded worker (core/fsm.py)."""

from __future__ import annotations

import threading

import pytest
from django.db.models.signals import post_init

from orders.models import Order
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_refresh_never_unprotects_the_shared_state_field(merchant):
    order = OrderFactory(merchant=merchant)
    field = Order._meta.get_field("state")
    seen = []

    def during_refresh(sender, instance, **kwargs):  # the fresh copy is built mid-refresh
        seen.append(field.protected)

    post_init.connect(during_refresh, sender=Order)
    try:
        order.refresh_from_db()
    finally:
        post_init.disconnect(during_refresh, sender=Order)

    assert seen and all(seen)
    assert field.protected


def test_refresh_loads_the_state_and_direct_assignment_still_refused(merchant):
    order = OrderFactory(merchant=merchant)
    Order.objects.filter(pk=order.pk).update(state="failed")

    order.refresh_from_db()

    assert order.state == "failed"
    with pytest.raises(AttributeError, match="Direct state modification is not allowed"):
        order.state = "placed"


def test_parallel_refreshes_in_threads_do_not_raise(merchant):
    orders = [OrderFactory(merchant=merchant) for _ in range(4)]
    errors: list[BaseException] = []

    def refresh_many(order):
        try:
            for _ in range(150):
                order.refresh_from_db()
        except BaseException as exc:
            errors.append(exc)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=refresh_many, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
