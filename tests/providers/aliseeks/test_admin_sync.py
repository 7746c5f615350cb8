from __future__ import annotations

import pytest
import responses
from django.urls import reverse

from .fault_spec import fixture, make_order

pytestmark = pytest.mark.django_db


def test_admin_sync_action_shows_state_and_shipments(client, operator, mocked,
                                                    django_capture_on_commit_callbacks):
    order = make_order()
    mocked.add(responses.POST, "https://api.aliseeks.com/v1/orders",
               json=fixture("create_order_reply.json"))
    mocked.add(responses.GET, "https://api.aliseeks.com/v1/orders",
               json=fixture("get_order_reply.json"))
    from orders import services

    services.order_place(order=order)
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:orders_order_changelist"),
                    {"action": "sync_selected", "_selected_action": [order.pk]})
    response = client.get(reverse("admin:orders_order_changelist"))
    text = response.content.decode()
    assert "now Completed" in text  # the bulk run's outcome for the order
    order.refresh_from_db()
    assert (order.state, order.raw_status_label) == ("completed", "Completed · shipped")
    assert order.shipments.count() == 2
    change = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "DH002886407AE" in change


def test_placed_aliseeks_order_shows_under_the_awaiting_payment_tab(client, operator, mocked):
    """Regression: Aliseeks' unpaid statuses were not flagged, so the 'Awaiting payment' tab
    never counted the one provider whose orders wait for the merchant's payment."""
    from orders import services

    order = make_order()
    mocked.add(responses.POST, "https://api.aliseeks.com/v1/orders",
               json=fixture("create_order_reply.json"))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    client.force_login(operator)
    page = client.get(reverse("admin:orders_order_changelist") + "?tab=awaiting_payment")
    assert order.reference in page.content.decode()
    assert page.context["cl"].result_count == 1
