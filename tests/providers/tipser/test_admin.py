"""The admin for Tipser orders: ship form with Tipser's carriers, item buttons."""

from __future__ import annotations

import json

import pytest
import responses
from django.core.cache import cache
from django.urls import reverse

from orders import snapshots
from orders.models import Order
from providers.tipser import mapping

from .conftest import HOST, ORDERS_URL, wire_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def tipser_order(account, tipser_merchant):
    snapshots.upsert_page(account=account, page=[mapping.parse_order(wire_order(1, items=2))])
    return Order.objects.get(external_id="ord00001")


def test_ship_form_offers_tipser_carriers_with_customer_choice_first(
    client, operator, mocked, tipser_order, django_capture_on_commit_callbacks
):
    cache.clear()
    mocked.add(
        responses.GET,
        f"{HOST}/v3/markets",
        json=[{"shippingProviders": [{"name": "PostNord"}, {"name": "UPS"}]}],
    )
    client.force_login(operator)
    url = reverse("admin:orders_order_transition", args=[tipser_order.pk, "ship"])
    # the list is read by the worker: meanwhile a free-text carrier and a note, no call
    with django_capture_on_commit_callbacks() as worker:
        waiting = client.get(url).content.decode()
    assert "The carrier list is being read from the provider; reload to pick from it" in waiting
    assert 'name="carrier"' in waiting and '<select name="carrier"' not in waiting
    assert len(mocked.calls) == 0 and len(worker) == 1
    worker[0]()
    assert len(mocked.calls) == 1  # GET /v3/markets, by the worker
    page = client.get(url).content.decode()
    assert '<option value="DHL" selected>DHL (customer&#x27;s choice)</option>' in page
    assert (
        '<option value="PostNord">' in page
        and '<option value="">Other (not listed)</option>' in page
    )

    mocked.add(responses.POST, f"{ORDERS_URL}/ord00001/shipping", json={})
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    with django_capture_on_commit_callbacks() as worker:
        response = client.post(
            url, {"carrier": "", "tracking_number": "TRK-7", "notify_customer": "on"}
        )
    assert response.status_code == 302
    assert not any(c.request.url.split("?")[0].endswith("/shipping") for c in mocked.calls)
    for task in worker:  # the worker pushes the shipment
        task()
    post = next(c for c in mocked.calls if c.request.url.split("?")[0].endswith("/shipping"))
    assert json.loads(post.request.body)["shippingProvider"] is None
    tipser_order.refresh_from_db()
    assert tipser_order.state == "shipped"
    assert tipser_order.shipments.get().pushed_at is not None


def test_order_and_item_pages_render_with_provider_buttons(client, operator, tipser_order):
    client.force_login(operator)
    page = client.get(reverse("admin:orders_order_change", args=[tipser_order.pk])).content.decode()
    assert "Put on hold" in page and "Ship (add tracking)" in page
    item = tipser_order.items.first()
    page = client.get(reverse("admin:orders_orderitem_change", args=[item.pk])).content.decode()
    assert "Acknowledge" in page and "Mark returned" not in page


def test_bulk_item_action_sends_one_request_per_order(client, operator, mocked, tipser_order,
                                                      django_capture_on_commit_callbacks):
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    client.force_login(operator)
    ids = list(tipser_order.items.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks() as worker:
        response = client.post(
            reverse("admin:orders_orderitem_changelist"),
            {"action": "items_hold", "_selected_action": ids},
        )
    assert response.status_code == 302
    assert len(mocked.calls) == 0 and len(worker) == 1
    for task in worker:
        task()
    assert len(mocked.calls) == 1
    assert json.loads(mocked.calls[0].request.body)["orderItemsIds"] == [
        "ord00001-item0",
        "ord00001-item1",
    ]
    assert {i.state for i in tipser_order.items.all()} == {"on_hold"}


def test_order_action_acknowledges_all_items_that_can_move(
    client, operator, mocked, tipser_order, django_capture_on_commit_callbacks
):
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "acknowledge_selected", "_selected_action": [tipser_order.pk]},
        )
    assert len(mocked.calls) == 1  # one request for all the order's items
    assert json.loads(mocked.calls[0].request.body)["status"] == 6
    assert {i.state for i in tipser_order.items.all()} == {"acknowledged"}


def test_bulk_item_action_needs_the_transition_permission(
    client, readonly_user, mocked, tipser_order
):
    client.force_login(readonly_user)
    ids = list(tipser_order.items.values_list("pk", flat=True))
    client.post(
        reverse("admin:orders_orderitem_changelist"),
        {"action": "items_hold", "_selected_action": ids},
    )
    assert len(mocked.calls) == 0


def test_bulk_ship_offers_the_providers_carriers_like_the_single_order_form(
    client, operator, mocked, tipser_order, django_capture_on_commit_callbacks
):
    from django.contrib.admin import helpers

    cache.clear()
    mocked.add(responses.GET, f"{HOST}/v3/markets",
               json=[{"shippingProviders": [{"name": "PostNord"}, {"name": "UPS"}]}])
    client.force_login(operator)
    url = reverse("admin:orders_order_changelist")
    base = {"action": "mark_shipped_selected", helpers.ACTION_CHECKBOX_NAME: [tipser_order.pk]}
    with django_capture_on_commit_callbacks() as worker:
        waiting = client.post(url, base).content.decode()
    assert "The carrier list is being read from the provider; reload to pick from it" in waiting
    assert f'name="carrier_{tipser_order.pk}"' not in waiting  # the carrier above, free text
    assert len(mocked.calls) == 0 and len(worker) == 1
    worker[0]()
    page = client.post(url, base).content.decode()
    select = page[page.index(f'name="carrier_{tipser_order.pk}"'):]
    select = select[:select.index("</select>")]
    assert '<option value="DHL">DHL (customer&#x27;s choice)</option>' in select
    assert '<option value="PostNord">PostNord</option>' in select
    assert '<option value="">Other (not listed)</option>' in select

    refused = client.post(url, {**base, "apply": "1", f"carrier_{tipser_order.pk}": "Pigeon",
                                f"tracking_{tipser_order.pk}": "TRK-9"}).content.decode()
    assert "“Pigeon” is not one of Tipser&#x27;s carriers." in refused

    mocked.add(responses.POST, f"{ORDERS_URL}/ord00001/shipping", json={})
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**base, "apply": "1", f"carrier_{tipser_order.pk}": "PostNord",
                          f"tracking_{tipser_order.pk}": "TRK-9"})
    post = next(c for c in mocked.calls if c.request.url.split("?")[0].endswith("/shipping"))
    assert json.loads(post.request.body)["shippingProvider"] == "PostNord"
    tipser_order.refresh_from_db()
    assert tipser_order.shipments.get().carrier == "PostNord"
