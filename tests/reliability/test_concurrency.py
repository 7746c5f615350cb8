"""Two workers placing the same order at the same moment (PostgreSQL row locks)."""

from __future__ import annotations

import time

import pytest
import responses
from django.db import connection

from orders import services, tasks
from orders.errors import OrderActionRefused
from orders.models import Order
from tests.concurrency import race
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

CREATE = f"{BASE_URL}/orders"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="row locks (select_for_update) need PostgreSQL; SQLite "
                       "serialises whole-database writes instead"),
]


def _slow_create(request):  # type: ignore[no-untyped-def]
    time.sleep(0.3)  # the provider takes its time: the other thread arrives meanwhile
    return 200, {}, '{"id": "C-1", "status": "NEW"}'


@pytest.fixture
def draft(transactional_db):
    order = OrderFactory(merchant=MerchantFactory())
    OrderItemFactory(order=order)
    return order


def test_two_threads_placing_one_order_make_exactly_one_provider_call(mocked, draft):
    mocked.add_callback(responses.POST, CREATE, callback=_slow_create)
    results = race(lambda: services.order_place(order=Order.objects.get(pk=draft.pk)).state)
    assert len(mocked.calls) == 1
    assert sorted(type(r).__name__ if isinstance(r, Exception) else r for r in results) == [
        "OrderActionRefused", "placed"]
    refused = next(r for r in results if isinstance(r, OrderActionRefused))
    assert "Placing" in refused.message or "Placed" in refused.message
    draft.refresh_from_db()
    assert draft.state == "placed" and draft.external_id == "C-1"


def test_four_task_deliveries_at_once_make_exactly_one_provider_call(mocked, draft):
    mocked.add_callback(responses.POST, CREATE, callback=_slow_create)
    results = race(lambda: tasks.order_place_task.apply(args=[draft.pk]).get(disable_sync_subtasks=False), n=4)
    assert len(mocked.calls) == 1
    assert all(r in ("placing", "placed") for r in results), results
    draft.refresh_from_db()
    assert draft.state == "placed"
