from __future__ import annotations

import pytest
import responses
from django.urls import reverse

from orders.models import OrderEvent, OrderItem
from tests.fake_provider import BASE_URL

from .conftest import set_state

pytestmark = pytest.mark.django_db


def _change(order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def test_order_page_shows_readable_timeline_with_provider_calls(operator_client, order, mocked):
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 12, "status": "NEW"})
    from orders import services

    services.order_place(order=order)

    html = operator_client.get(_change(order)).content.decode()

    assert 'id="timeline"' in html
    assert "place_order: 200" in html and " ms, ok" in html
    assert "Placing → Placed" in html
    assert "sk_test_supersecret_123" not in html


def test_operator_adds_a_note_to_the_timeline(operator_client, operator, order):
    response = operator_client.post(reverse("admin:orders_order_note", args=[order.pk]),
                                    {"text": "Customer called, wants express."})

    assert response.status_code == 302
    note = order.events.get(kind=OrderEvent.Kind.NOTE)
    assert note.message == "Customer called, wants express." and note.actor == operator
    assert "Customer called, wants express." in operator_client.get(_change(order)).content.decode()


def test_empty_note_is_refused_with_a_message_and_nothing_saved(operator_client, order):
    response = operator_client.post(reverse("admin:orders_order_note", args=[order.pk]),
                                    {"text": ""}, follow=True)

    assert "note is empty" in response.content.decode()
    assert not order.events.filter(kind=OrderEvent.Kind.NOTE).exists()


def test_sync_now_button_queues_the_sync_and_the_worker_refreshes_the_order(
        operator_client, order, mocked, django_capture_on_commit_callbacks):
    set_state(order, "placed", external_id="55", raw_status="NEW")
    mocked.add(responses.GET, f"{BASE_URL}/orders/55", json={"id": 55, "status": "WORKING"})

    page = operator_client.get(_change(order)).content.decode()
    assert "dd-sync-now" in page
    with django_capture_on_commit_callbacks() as worker:
        response = operator_client.post(reverse("admin:orders_order_sync", args=[order.pk]),
                                        follow=True)
    assert "sync queued" in response.content.decode()
    assert len(mocked.calls) == 0 and worker  # nothing asked in the web request
    for task in worker:
        task()

    order.refresh_from_db()
    assert order.state == "in_progress" and order.raw_status == "WORKING"


def test_sync_failure_is_no_500_and_leaves_the_order_as_it_was(
        operator_client, order, mocked, django_capture_on_commit_callbacks):
    set_state(order, "placed", external_id="56", raw_status="NEW")
    mocked.add(responses.GET, f"{BASE_URL}/orders/56", status=503)

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(reverse("admin:orders_order_sync", args=[order.pk]),
                                        follow=True)

    assert response.status_code == 200
    assert len(mocked.calls) >= 1  # the worker tried (and retried)
    order.refresh_from_db()
    assert order.state == "placed" and order.raw_status == "NEW"


def test_placement_unknown_page_offers_reconcile_form_and_lookup(operator_client, order):
    set_state(order, "placement_unknown", failure_reason="Outcome unknown: timeout")

    html = operator_client.get(_change(order)).content.decode()

    assert 'value="reconcile"' in html and "dd-lookup" in html
    assert "Outcome unknown: timeout" in html
    form = operator_client.get(reverse("admin:orders_order_transition",
                                       args=[order.pk, "reconcile"]))
    assert 'name="external_id"' in form.content.decode()


def test_reconcile_form_places_order_with_given_id(operator_client, order):
    set_state(order, "placement_unknown")

    operator_client.post(reverse("admin:orders_order_transition", args=[order.pk, "reconcile"]),
                         {"placed": "yes", "external_id": "X-9"})

    order.refresh_from_db()
    assert order.state == "placed" and order.external_id == "X-9"


def test_lookup_reconciles_from_provider(operator_client, order, mocked,
                                        django_capture_on_commit_callbacks):
    set_state(order, "placement_unknown")
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/{order.reference}",
               json={"id": 42, "status": "NEW"})

    with django_capture_on_commit_callbacks() as worker:
        operator_client.post(reverse("admin:orders_order_lookup", args=[order.pk]))
    assert len(mocked.calls) == 0 and worker  # queued: no provider call in the request
    for task in worker:
        task()

    order.refresh_from_db()
    assert order.state == "placed" and order.external_id == "42"


def test_raw_provider_data_is_collapsed(operator_client, order):
    html = operator_client.get(_change(order)).content.decode()
    assert "<details" in html and "Raw provider data" in html


def test_ship_transition_form_asks_for_tracking_number(operator_client, order, mocked,
                                                       django_capture_on_commit_callbacks):
    set_state(order, "placed", external_id="60", raw_status="NEW")
    mocked.add(responses.POST, f"{BASE_URL}/orders/60/shipping", json={})

    with django_capture_on_commit_callbacks() as worker:
        response = operator_client.post(
            reverse("admin:orders_order_transition", args=[order.pk, "ship"]),
            {"carrier": "UPS", "tracking_number": "1Z1", "notify_customer": "on"}, follow=True)
    assert "queued; this page shows the outcome" in response.content.decode()
    assert len(mocked.calls) == 0 and worker
    order.refresh_from_db()
    assert order.state == "placed" and not order.shipments.exists()
    assert order.events.filter(message__endswith=" queued").exists()
    for task in worker:
        task()

    order.refresh_from_db()
    assert order.state == "shipped"
    assert order.shipments.get().tracking_number == "1Z1"


def test_acknowledge_button_acknowledges_all_allowed_items_in_one_call(
        operator_client, order, mocked, django_capture_on_commit_callbacks):
    set_state(order, "placed", external_id="70", raw_status="NEW")
    order.items.update(raw_status="0")
    first, second = order.items.all()
    OrderItem.objects.filter(pk=first.pk).update(external_id="a")
    OrderItem.objects.filter(pk=second.pk).update(external_id="b")
    mocked.add(responses.PUT, f"{BASE_URL}/orders/70", json={},
               match=[responses.matchers.json_params_matcher(
                   {"status": 6, "orderItemsIds": ["a", "b"], "comment": ""})])

    assert "Acknowledge 2 items" in operator_client.get(_change(order)).content.decode()
    with django_capture_on_commit_callbacks() as worker:
        operator_client.post(reverse("admin:orders_order_acknowledge_items", args=[order.pk]))
    assert len(mocked.calls) == 0 and worker
    assert "acknowledged" not in set(order.items.values_list("state", flat=True))
    for task in worker:
        task()

    assert set(order.items.values_list("state", flat=True)) == {"acknowledged"}
    assert len(mocked.calls) == 1
    assert "dd-ack-items" not in operator_client.get(_change(order)).content.decode()


def test_lookup_button_only_where_the_provider_can_look_orders_up(operator_client, order, merchant):
    set_state(order, "placement_unknown")
    assert "Look it up at the provider" in operator_client.get(_change(order)).content.decode()
    merchant.account.provider = "aliseeks"  # no lookup by our reference: the operator reconciles
    merchant.account.save()
    html = operator_client.get(_change(order)).content.decode()
    assert "Look it up at the provider" not in html
    assert "Reconcile placement" in html


def test_the_page_follows_a_queued_command_until_the_worker_records_the_outcome(
        operator_client, order, mocked, django_capture_on_commit_callbacks):
    set_state(order, "placed", external_id="61", raw_status="NEW")
    mocked.add(responses.POST, f"{BASE_URL}/orders/61/cancel", json={})
    live = reverse("admin:orders_order_live", args=[order.pk])
    assert 'data-running="0"' in operator_client.get(live).content.decode()
    with django_capture_on_commit_callbacks() as worker:
        operator_client.post(reverse("admin:orders_order_transition", args=[order.pk, "cancel"]),
                             {"reason": "customer"})
    assert len(mocked.calls) == 0
    assert 'data-running="1"' in operator_client.get(live).content.decode()  # waits, polls
    for task in worker:
        task()
    partial = operator_client.get(live).content.decode()
    assert 'data-running="0"' in partial and "Cancelled" in partial
