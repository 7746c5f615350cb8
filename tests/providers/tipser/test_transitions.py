"""Item and order moves: nextStatuses decide, refusals happen before HTTP, provider refusals
leave our state as it was."""

from __future__ import annotations

import json

import pytest
import responses
from django_fsm import can_proceed
from responses import matchers

from merchants.provider_requests import provider_service as service_for
from orders import services, snapshots
from orders.errors import OrderActionRefused
from orders.models import Order, OrderEvent
from orders.provider_requests import item_requests, order_request
from providers.errors import ProviderError, ProviderRejected, ProviderValidationError
from providers.tipser import mapping

from .conftest import API_KEY, ORDERS_URL, fixture, wire_order

pytestmark = pytest.mark.django_db


def _import(account, wire) -> Order:
    snapshots.upsert_page(account=account, page=[mapping.parse_order(wire)])
    return Order.objects.get(external_id=wire["id"])


def test_item_buttons_follow_the_provider_next_statuses(account, tipser_merchant):
    order = _import(account, wire_order(1, status=0, next_statuses=[1, 3]))
    item = order.items.get()
    assert can_proceed(item.hold) and can_proceed(item.cancel)
    assert not can_proceed(item.acknowledge) and not can_proceed(item.ship)
    names = {t.name for t in item.get_available_state_transitions() if t.custom.get("admin", True)}
    assert names == {"hold", "cancel"}


def test_transition_outside_next_statuses_is_refused_before_any_http_call(
    mocked, account, tipser_merchant
):
    order = _import(account, wire_order(1, status=0, next_statuses=[1, 3]))
    with pytest.raises(OrderActionRefused):
        services.order_items_set_status(
            order=order, items=list(order.items.all()), transition_name="acknowledge"
        )
    assert len(mocked.calls) == 0
    assert order.items.get().state == "new"


def test_service_refuses_a_status_outside_next_statuses_before_any_http_call(
    mocked, account, tipser_merchant
):
    order = _import(account, fixture("order_detail.json"))  # shipped item, nextStatuses [4]
    with pytest.raises(ProviderValidationError):
        service_for(account).set_item_status(order_request(order), item_requests(order.items.all()),
                                              "cancelled")
    assert len(mocked.calls) == 0


def test_provider_refusal_records_reason_and_keeps_state(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1, status=0))
    mocked.add(
        responses.PUT,
        f"{ORDERS_URL}/ord00001",
        status=400,
        json={"error": {"id": "IncorrectInputData", "message": "Item is locked"}},
    )
    with pytest.raises(ProviderRejected):
        services.order_items_set_status(
            order=order, items=list(order.items.all()), transition_name="acknowledge"
        )
    order.refresh_from_db()
    item = order.items.get()
    assert (order.state, item.state, item.raw_status) == ("placed", "new", "0")
    assert item.next_statuses == ["1", "2", "3", "6"]
    assert "Item is locked (IncorrectInputData)" in order.failure_reason
    assert order.events.filter(kind=OrderEvent.Kind.ERROR).exists()


def test_bulk_item_change_sends_one_request_with_all_ids(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1, status=0, items=3))
    items = list(order.items.all())[:2]
    mocked.add(
        responses.PUT,
        f"{ORDERS_URL}/ord00001",
        json={},
        match=[
            matchers.json_params_matcher(
                {"status": 1, "orderItemsIds": ["ord00001-item0", "ord00001-item1"], "comment": ""}
            )
        ],
    )
    services.order_items_set_status(order=order, items=items, transition_name="hold")
    assert len(mocked.calls) == 1
    assert [i.state for i in order.items.all()] == ["on_hold", "on_hold", "new"]


def test_order_buttons_offered_for_a_new_tipser_order(account, tipser_merchant):
    order = _import(account, wire_order(1, status=0))
    assert set(services.order_transitions_available(order=order)) == {"hold", "ship", "cancel"}


def test_order_cancel_sends_every_item_id(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1, status=6, items=2))
    mocked.add(
        responses.PUT,
        f"{ORDERS_URL}/ord00001",
        json={},
        match=[
            matchers.query_param_matcher({"apiKey": API_KEY}),
            matchers.json_params_matcher(
                {
                    "status": 3,
                    "orderItemsIds": ["ord00001-item0", "ord00001-item1"],
                    "comment": "Cancelled by merchant",
                }
            ),
        ],
    )
    services.order_cancel(order=order, reason="out of stock")
    order.refresh_from_db()
    assert order.state == "cancelled"


def test_order_cancel_refused_before_http_when_an_item_cannot_be_cancelled(
    mocked, account, tipser_merchant
):
    wire = wire_order(1, status=0, items=2)
    wire["items"][1].update(status=6, nextStatuses=[2])
    order = _import(account, wire)
    with pytest.raises(ProviderValidationError):
        services.order_cancel(order=order)
    assert len(mocked.calls) == 0
    order.refresh_from_db()
    assert order.state == "in_progress" and "cancel refused" in order.failure_reason


def test_order_hold_and_release_send_the_items_of_the_order(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1, status=0, items=2))
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    services.order_hold(order=order)
    assert json.loads(mocked.calls[0].request.body) == {
        "status": 1,
        "orderItemsIds": ["ord00001-item0", "ord00001-item1"],
        "comment": "On hold",
    }
    order.refresh_from_db()
    assert order.state == "on_hold"
    # the sync reports the items on hold with their next statuses
    held = wire_order(1, status=1, items=2)
    snapshots.upsert_page(account=account, page=[mapping.parse_order(held)])
    services.order_release(order=order)
    assert json.loads(mocked.calls[1].request.body) == {
        "status": 6,
        "orderItemsIds": ["ord00001-item0", "ord00001-item1"],
        "comment": "Hold released",
    }
    order.refresh_from_db()
    assert order.state == "in_progress"


def test_refused_shipping_push_keeps_order_state_and_records_reason(
    mocked, account, tipser_merchant
):
    order = _import(account, wire_order(1, status=6))
    mocked.add(
        responses.POST,
        f"{ORDERS_URL}/ord00001/shipping",
        status=400,
        json={"error": {"id": "IncorrectInputData", "message": "Unknown shipping provider"}},
    )
    with pytest.raises(ProviderRejected):
        services.order_ship(order=order, carrier="Pigeon", tracking_number="P-1")
    order.refresh_from_db()
    assert order.state == "in_progress"
    assert "Unknown shipping provider" in order.failure_reason
    shipment = order.shipments.get()
    # the refused push is kept with its reason, cancelled: not a pending ghost (issue 21)
    assert shipment.pushed_at is None and shipment.state == "cancelled"
    assert "Unknown shipping provider" in shipment.raw_data["push_error"]
    assert len(mocked.calls) == 1  # no status change after a refused shipping post


def test_after_a_refused_push_the_operator_ships_again_with_corrected_data(
    mocked, account, tipser_merchant
):
    order = _import(account, wire_order(1, status=6, items=2))
    refused = mocked.add(
        responses.POST, f"{ORDERS_URL}/ord00001/shipping", status=400,
        json={"error": {"id": "IncorrectInputData", "message": "Unknown shipping provider"}},
        match=[matchers.json_params_matcher({"shippingProvider": "Pigeon"}, strict_match=False)],
    )
    with pytest.raises(ProviderRejected):
        services.order_ship(order=order, carrier="Pigeon", tracking_number="P-1")
    order.refresh_from_db()
    assert "correct the shipping data and use Ship again" in order.failure_reason
    first = order.shipments.get()

    accepted = mocked.add(
        responses.POST, f"{ORDERS_URL}/ord00001/shipping", json={},
        match=[matchers.json_params_matcher(
            {"shippingProvider": "DHL", "trackingNumber": "JD-2",
             "orderItemsIds": ["ord00001-item0", "ord00001-item1"]}, strict_match=False)],
    )
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    second = services.order_ship(order=order, carrier="DHL", tracking_number="JD-2")

    assert (refused.call_count, accepted.call_count) == (1, 1)
    order.refresh_from_db()
    first.refresh_from_db()
    assert order.state == "shipped" and order.failure_reason == ""
    assert second.state == "shipped" and second.pushed_at is not None
    assert first.state == "cancelled" and "push_error" in first.raw_data  # kept, with its reason
    assert sorted(second.lines.values_list("quantity", flat=True)) == [1, 1]
    assert order.events.filter(message__contains=f"Shipment {first} not taken").exists()


def test_a_push_with_unknown_outcome_stays_pending_and_is_replaced_by_the_next_ship(
    mocked, account, tipser_merchant
):
    import requests

    order = _import(account, wire_order(1, status=6))
    mocked.add(responses.POST, f"{ORDERS_URL}/ord00001/shipping",
               body=requests.exceptions.ReadTimeout())
    with pytest.raises(ProviderError):
        services.order_ship(order=order, carrier="DHL", tracking_number="JD-1")
    first = order.shipments.get()
    assert first.state == "pending" and first.raw_data.get("outcome_unknown") is True
    order.refresh_from_db()
    assert "check there first" in order.failure_reason

    mocked.replace(responses.POST, f"{ORDERS_URL}/ord00001/shipping", json={})
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    second = services.order_ship(order=order, carrier="DHL", tracking_number="JD-1")
    first.refresh_from_db()
    assert first.state == "cancelled" and second.state == "shipped"
    assert order.events.filter(message__contains=f"Replaced by shipment {second}").exists()


def test_release_right_after_hold_sends_the_live_items(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1, status=0, items=2))
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    services.order_hold(order=order)
    services.order_release(order=order)  # no sync in between: items still look New locally
    body = json.loads(mocked.calls[1].request.body)
    assert (body["status"], body["orderItemsIds"]) == (6, ["ord00001-item0", "ord00001-item1"])


@pytest.mark.parametrize(
    ("transition", "state"),
    [
        ("acknowledge", "in_progress"),
        ("hold", "on_hold"),
        ("cancel", "cancelled"),
        ("ship", "shipped"),
    ],
)
def test_order_state_follows_its_items_after_an_item_change(
    mocked, account, tipser_merchant, transition, state
):
    order = _import(account, wire_order(1, status=0, items=2))
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    services.order_items_set_status(
        order=order, items=list(order.items.all()), transition_name=transition
    )
    order.refresh_from_db()
    assert order.state == state
    assert order.events.filter(message__contains="follows its items").exists()


def test_one_of_two_items_shipped_makes_order_partially_shipped(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1, status=0, items=2))
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    services.order_items_set_status(
        order=order, items=[order.items.first()], transition_name="ship"
    )
    order.refresh_from_db()
    assert order.state == "partially_shipped"
