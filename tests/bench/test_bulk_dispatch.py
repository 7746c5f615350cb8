"""A big bulk run sends one message; the worker queues one task per order (dispatch.bulk_run_enqueue)."""

from __future__ import annotations

import json

import pytest
import responses
from django.contrib.admin import helpers
from django.urls import reverse

from orders import dispatch
from orders.models import BulkRun
from tests.factories import OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db
URL = reverse("admin:orders_order_changelist")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def test_bulk_place_above_the_inline_limit_places_every_order_and_panel_is_capped(
    operator_client, merchant, mocked, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(dispatch, "BULK_INLINE_ENQUEUE", 2)
    orders = []
    for _ in range(30):
        order = OrderFactory(merchant=merchant)
        OrderItemFactory(order=order, sku="SKU-A", quantity=1)
        orders.append(order)
    ids = iter(range(1000, 2000))
    mocked.add_callback(responses.POST, f"{BASE_URL}/orders",
                        callback=lambda request: (200, {}, json.dumps({"id": next(ids), "status": "NEW"})))
    sent = []
    from orders import tasks

    original = tasks.bulk_run_dispatch_task.delay
    monkeypatch.setattr(tasks.bulk_run_dispatch_task, "delay",
                        lambda *a: sent.append(a) or original(*a))

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(URL, {
            "action": "place_selected", helpers.ACTION_CHECKBOX_NAME: [o.pk for o in orders]})

    assert response.status_code == 302
    run = BulkRun.objects.get()
    assert sent == [(run.pk,)]
    assert set(run.items.values_list("outcome", flat=True)) == {"done"}
    assert len(mocked.calls) == 30
    html = operator_client.get(URL).content.decode()
    assert html.count('class="dd-run-row"') == 25
    assert "… and 5 more order(s)" in html
    assert "30 done, 0 queued, 0 skipped, 0 failed" in html
