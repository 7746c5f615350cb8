from __future__ import annotations

import pytest
import responses
from django.urls import reverse

from .fault_spec import fixture, make_order

pytestmark = pytest.mark.django_db


def test_admin_sync_action_shows_state_and_shipments(client, operator, mocked):
    order = make_order()
    mocked.add(responses.POST, "https://api.aliseeks.com/v1/orders",
               json=fixture("create_order_reply.json"))
    mocked.add(responses.GET, "https://api.aliseeks.com/v1/orders",
               json=fixture("get_order_reply.json"))
    from orders import services

    services.order_place(order=order)
    client.force_login(operator)
    response = client.post(reverse("admin:orders_order_changelist"),
                           {"action": "sync_from_provider", "_selected_action": [order.pk]},
                           follow=True)
    text = response.content.decode()
    assert "Completed (Completed · shipped), 2 shipment(s)" in text
    change = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "DH002886407AE" in change
