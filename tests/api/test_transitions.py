from __future__ import annotations

import json

import pytest
import responses

from orders.models import Order, Shipment
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db


def _url(order, name=""):
    return f"/api/v1/orders/{order.pk}/transitions/" + (f"{name}/" if name else "")


@pytest.fixture
def placed(merchant):
    # no raw status yet: the status table then allows every supported action
    order = OrderFactory(merchant=merchant, state="placed", external_id="991")
    OrderItemFactory(order=order, sku="SKU-A", quantity=2)
    OrderItemFactory(order=order, sku="SKU-B", quantity=1)
    return order


def test_lists_transitions_available_now_with_their_payload_schema(api, placed):
    response = api.get(_url(placed))
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    assert set(rows) == {"hold", "ship", "cancel"}
    ship = rows["ship"]
    assert ship["url"] == _url(placed, "ship") and ship["long_running"] is False
    assert ship["payload"]["required"] == ["tracking_number"]
    assert ship["payload"]["properties"]["tracking_number"] == {"type": "string", "maxLength": 120}
    assert ship["payload"]["properties"]["items"]["type"] == "array"
    assert rows["cancel"]["payload"]["properties"]["reason"]["maxLength"] == 500


def test_draft_lists_place_as_long_running(api, order):
    rows = {row["name"]: row for row in api.get(_url(order)).json()}
    assert rows["place"]["long_running"] is True
    assert set(rows) == {"place", "cancel"}


def test_readonly_user_sees_no_transitions(readonly_user, order):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(readonly_user)
    assert client.get(_url(order)).json() == []
    response = client.post(_url(order, "cancel"), {}, format="json")
    assert response.status_code == 403


def test_transition_not_allowed_now_is_409_listing_the_allowed_ones(api, order):
    response = api.post(_url(order, "ship"), {"tracking_number": "T1"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_allowed"
    assert sorted(error["allowed"]) == ["cancel", "place"]


def test_unknown_transition_is_404(api, order):
    response = api.post(_url(order, "explode"), {}, format="json")
    assert response.status_code == 404
    assert "explode" in response.json()["error"]["message"]


def test_payload_errors_name_the_field(api, placed):
    response = api.post(_url(placed, "ship"),
                        {"tracking_url": "not a url", "items": [{"item": 1, "quantity": 0}],
                         "colour": "red"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {
        "tracking_number", "tracking_url", "items.0.quantity", "colour"}


def test_place_answers_202_then_the_task_places_the_order(api, order, mocked,
                                                           django_capture_on_commit_callbacks):
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 991, "status": "NEW"})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(_url(order, "place"), format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "accepted" and body["transition"] == "place"
    assert response["Location"] == body["location"] == f"/api/v1/orders/{order.pk}/"
    assert body["order"]["state"] == "draft"  # not yet: the task runs after commit
    assert len(callbacks) == 1
    detail = api.get(body["location"]).json()
    assert detail["state"] == "placed" and detail["external_id"] == "991"
    assert len(mocked.calls) == 1


def test_place_rejected_by_provider_shows_failure_reason(api, order, mocked,
                                                        django_capture_on_commit_callbacks):
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"message": "SKU-A unknown"},
               status=422)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(_url(order, "place"), format="json").status_code == 202
    detail = api.get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["state"] == "failed"
    assert detail["failure_reason"]
    assert {r["name"] for r in api.get(_url(order)).json()} >= {"place", "reopen"}


def test_place_refusals_are_immediate_and_nothing_is_queued(api, mocked,
                                                           django_capture_on_commit_callbacks):
    unauthorized = OrderFactory(merchant=MerchantFactory(authorized=False))
    OrderItemFactory(order=unauthorized)
    empty = OrderFactory(merchant=MerchantFactory())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        refused = api.post(_url(unauthorized, "place"), format="json")
        invalid = api.post(_url(empty, "place"), format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "merchant_not_authorized"
    assert invalid.status_code == 409  # a well-formed request; the order is not ready
    assert invalid.json()["error"]["code"] == "order_invalid"
    assert invalid.json()["error"]["fields"] == {"items": ["Add at least one item."]}
    assert callbacks == [] and len(mocked.calls) == 0


def test_cancel_a_draft_locally(api, order, mocked):
    response = api.post(_url(order, "cancel"), {"reason": "customer changed mind"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "done" and body["order"]["state"] == "cancelled"
    assert body["shipment"] is None
    assert len(mocked.calls) == 0


def test_cancel_at_the_provider_answers_202_and_the_worker_cancels(
        api, placed, mocked, django_capture_on_commit_callbacks):
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/cancel", json={})
    with django_capture_on_commit_callbacks() as worker:
        response = api.post(_url(placed, "cancel"), {"reason": "customer"}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "accepted" and response["Location"] == body["location"]
    assert body["order"]["state"] == "placed"
    assert len(mocked.calls) == 0 and worker  # no provider call in the request
    for task in worker:
        task()
    placed.refresh_from_db()
    assert placed.state == "cancelled" and len(mocked.calls) == 1


def test_cancel_refused_by_provider_is_on_the_timeline_with_the_reason(
        api, placed, mocked, django_capture_on_commit_callbacks):
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/cancel",
               json={"message": "already shipping"}, status=400)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(_url(placed, "cancel"), {}, format="json")
    assert response.status_code == 202
    placed.refresh_from_db()
    assert placed.state == "placed" and "refused by provider" in placed.failure_reason
    errors = list(placed.events.filter(kind="error").values_list("message", flat=True))
    assert len(errors) == 1 and "already shipping" in errors[0]
    detail = api.get(f"/api/v1/orders/{placed.pk}/").json()
    assert "already shipping" in detail["failure_reason"]


def test_provider_down_retries_then_records_that_it_gave_up(
        api, placed, mocked, django_capture_on_commit_callbacks, settings):
    settings.ORDER_PLACE_MAX_TRIES = 3
    settings.TASK_RETRY_BASE_DELAY = 0
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/cancel", body="oops", status=503)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(_url(placed, "cancel"), {}, format="json")
    assert response.status_code == 202
    assert len(mocked.calls) == 3  # tried, retried, gave up
    placed.refresh_from_db()
    assert placed.state == "placed" and placed.failure_reason


def test_ship_transition_is_queued_then_pushes_and_records_the_shipment(
        api, placed, mocked, django_capture_on_commit_callbacks):
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/shipping", json={})
    with django_capture_on_commit_callbacks() as worker:
        response = api.post(_url(placed, "ship"),
                            {"carrier": "DHL", "tracking_number": "TRK9"}, format="json")
    assert response.status_code == 202, response.json()
    assert len(mocked.calls) == 0 and not Shipment.objects.exists()
    for task in worker:
        task()
    placed.refresh_from_db()
    assert placed.state == "shipped"
    shipment = placed.shipments.get()
    assert shipment.tracking_number == "TRK9"
    assert sorted(line.quantity for line in shipment.lines.all()) == [1, 2]
    assert json.loads(mocked.calls[0].request.body) == {"tracking": "TRK9", "carrier": "DHL"}


def test_hold_and_release(api, placed):
    assert api.post(_url(placed, "hold"), format="json").json()["order"]["state"] == "on_hold"
    released = api.post(_url(placed, "release"), format="json").json()
    assert released["order"]["state"] == "in_progress"


def test_reconcile_needs_external_id_when_placed(api, merchant):
    order = OrderFactory(merchant=merchant, state="placement_unknown")
    response = api.post(_url(order, "reconcile"), {"placed": True}, format="json")
    assert response.status_code == 400
    assert "external_id" in response.json()["error"]["fields"]
    response = api.post(_url(order, "reconcile"), {"placed": True, "external_id": "77"},
                        format="json")
    assert response.status_code == 200
    assert response.json()["order"]["state"] == "placed"
    assert response.json()["order"]["external_id"] == "77"


def test_sync_answers_202_and_refreshes(api, placed, mocked, django_capture_on_commit_callbacks):
    mocked.add(responses.GET, f"{BASE_URL}/orders/991",
               json={"id": "991", "status": "WORKING", "items": [], "shipping": []})
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/orders/{placed.pk}/sync/", format="json")
    assert response.status_code == 202
    assert response.json()["location"] == f"/api/v1/orders/{placed.pk}/"
    assert Order.objects.get(pk=placed.pk).raw_status == "WORKING"


def test_sync_without_provider_id_is_409(api, order):
    response = api.post(f"/api/v1/orders/{order.pk}/sync/", format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_allowed"


# --- items and shipments under an order --------------------------------------------------------
def test_add_and_remove_items_while_draft(api, order):
    url = f"/api/v1/orders/{order.pk}/items/"
    added = api.post(url, {"sku": "SKU-C", "quantity": 3, "unit_price": "2.00"}, format="json")
    assert added.status_code == 201, added.json()
    item_id = added.json()["id"]
    assert len(api.get(url).json()) == 3
    assert api.get(f"{url}{item_id}/").json()["sku"] == "SKU-C"
    assert Order.objects.get(pk=order.pk).items_total == 34.5
    assert api.delete(f"{url}{item_id}/").status_code == 204
    assert api.get(f"{url}{item_id}/").status_code == 404
    assert Order.objects.get(pk=order.pk).items_total == 28.5


def test_item_changes_after_draft_are_409(api, placed):
    url = f"/api/v1/orders/{placed.pk}/items/"
    response = api.post(url, {"sku": "SKU-C"}, format="json")
    assert response.status_code == 409
    item = placed.items.first()
    assert api.delete(f"{url}{item.pk}/").status_code == 409
    assert placed.items.count() == 2


def test_item_validation_names_fields(api, order):
    response = api.post(f"/api/v1/orders/{order.pk}/items/",
                        {"sku": "X", "quantity": -1, "unit_price": "abc"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"quantity", "unit_price"}


def test_item_of_another_order_is_404(api, order, merchant):
    other = OrderFactory(merchant=merchant)
    item = OrderItemFactory(order=other)
    assert api.get(f"/api/v1/orders/{order.pk}/items/{item.pk}/").status_code == 404


def test_post_shipments_ships_part_of_the_order(api, placed, mocked,
                                                django_capture_on_commit_callbacks):
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/shipping", json={})
    item = placed.items.get(sku="SKU-A")
    with django_capture_on_commit_callbacks() as worker:
        response = api.post(f"/api/v1/orders/{placed.pk}/shipments/",
                            {"tracking_number": "P1", "items": [{"item": item.pk, "quantity": 1}]},
                            format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "accepted" and len(mocked.calls) == 0
    for task in worker:
        task()
    placed.refresh_from_db()
    assert placed.state == "partially_shipped"
    listed = api.get(f"/api/v1/orders/{placed.pk}/shipments/").json()
    assert [s["tracking_number"] for s in listed] == ["P1"]
    assert listed[0]["lines"] == [{"item": item.pk, "quantity": 1}]


def test_shipment_quantity_beyond_what_is_left_is_409(api, placed):
    item = placed.items.get(sku="SKU-B")
    response = api.post(f"/api/v1/orders/{placed.pk}/shipments/",
                        {"tracking_number": "P1", "items": [{"item": item.pk, "quantity": 5}]},
                        format="json")
    assert response.status_code == 409
    assert f"items.{item.pk}" in response.json()["error"]["fields"]
    assert Shipment.objects.count() == 0


def test_shipment_push_failure_is_on_the_order_with_the_reason(
        api, placed, mocked, django_capture_on_commit_callbacks, settings):
    settings.ORDER_PLACE_MAX_TRIES = 1
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/shipping", body="down", status=500)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/orders/{placed.pk}/shipments/", {"tracking_number": "P1"},
                            format="json")
    assert response.status_code == 202
    placed.refresh_from_db()
    assert placed.state == "placed"
    assert "Shipping push refused" in placed.failure_reason


# --- item statuses and notes ----------------------------------------------------------------
def test_item_status_change_is_one_provider_request(api, placed, mocked,
                                                    django_capture_on_commit_callbacks):
    mocked.add(responses.PUT, f"{BASE_URL}/orders/991", json={})
    placed.items.update(raw_status="0")  # "New": the provider allows acknowledging
    items = list(placed.items.order_by("pk"))
    with django_capture_on_commit_callbacks() as worker:
        response = api.post(f"/api/v1/orders/{placed.pk}/items/status/",
                            {"transition": "acknowledge", "items": [i.pk for i in items],
                             "comment": "on it"}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "accepted" and response["Location"]
    assert len(mocked.calls) == 0
    for task in worker:
        task()
    assert set(placed.items.values_list("state", flat=True)) == {"acknowledged"}
    assert len(mocked.calls) == 1
    sent = json.loads(mocked.calls[0].request.body)
    assert sent["status"] == 6 and sent["comment"] == "on it"


def test_item_status_refusals(api, placed, merchant, mocked):
    url = f"/api/v1/orders/{placed.pk}/items/status/"
    foreign = OrderItemFactory(order=OrderFactory(merchant=merchant))
    response = api.post(url, {"transition": "hold", "items": [foreign.pk]}, format="json")
    assert response.status_code == 404  # not an item of this order
    assert "items" in response.json()["error"]["fields"]
    response = api.post(url, {"transition": "explode", "items": []}, format="json")
    assert set(response.json()["error"]["fields"]) == {"transition", "items"}
    item = placed.items.first()
    response = api.post(url, {"transition": "mark_returned", "items": [item.pk]}, format="json")
    assert response.status_code == 409
    assert len(mocked.calls) == 0


def test_item_status_refused_by_provider_is_on_the_timeline_with_reason(
        api, placed, mocked, django_capture_on_commit_callbacks):
    mocked.add(responses.PUT, f"{BASE_URL}/orders/991", json={"message": "locked"}, status=400)
    placed.items.update(raw_status="0")
    item = placed.items.first()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/orders/{placed.pk}/items/status/",
                            {"transition": "cancel", "items": [item.pk]}, format="json")
    assert response.status_code == 202
    placed.refresh_from_db()
    assert "Item status refused" in placed.failure_reason
    item.refresh_from_db()
    assert item.state != "cancelled"
    assert placed.events.filter(kind="error", message__contains="locked").count() == 1


def test_add_a_note(api, order):
    response = api.post(f"/api/v1/orders/{order.pk}/notes/", {"text": " called the customer "},
                        format="json")
    assert response.status_code == 201
    assert response.json()["message"] == "called the customer"
    assert response.json()["actor"] == "api-erp"
    assert api.post(f"/api/v1/orders/{order.pk}/notes/", {}, format="json").status_code == 400
