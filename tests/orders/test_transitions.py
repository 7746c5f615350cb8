from __future__ import annotations

import pytest
from django_fsm import TransitionNotAllowed, can_proceed

from orders.lifecycle import ItemLifecycle, Lifecycle
from orders.models import Order, OrderItem, Shipment
from tests.factories import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


def _order_in(state: str, **kw) -> Order:
    order = OrderFactory(**kw)
    if state != Lifecycle.DRAFT:
        order.sync_state(target=state)
        order.save()
    return order


@pytest.mark.parametrize(
    ("source", "name", "kwargs", "target"),
    [
        ("draft", "place", {}, "placing"),
        ("failed", "place", {}, "placing"),
        ("placing", "placement_succeeded", {}, "placed"),
        ("placing", "placement_failed", {"reason": "x"}, "failed"),
        ("placing", "placement_outcome_unknown", {"reason": "x"}, "placement_unknown"),
        ("placement_unknown", "reconcile", {"placed": True, "external_id": "9"}, "placed"),
        ("placement_unknown", "reconcile", {"placed": False}, "draft"),
        ("failed", "reopen", {}, "draft"),
        ("placed", "hold", {}, "on_hold"),
        ("on_hold", "release", {}, "in_progress"),
        ("placed", "ship", {"complete": False}, "partially_shipped"),
        ("partially_shipped", "ship", {"complete": True}, "shipped"),
        ("shipped", "complete", {}, "completed"),
        ("draft", "cancel", {}, "cancelled"),
        ("draft", "expire", {}, "expired"),
    ],
)
def test_allowed_transition_moves_state(source, name, kwargs, target):
    order = _order_in(source)
    getattr(order, name)(**kwargs)
    order.save()
    order.refresh_from_db()
    assert order.state == target


@pytest.mark.parametrize(
    ("source", "name", "kwargs"),
    [
        ("placed", "place", {}),
        ("draft", "placement_succeeded", {}),
        ("completed", "cancel", {}),
        ("shipped", "hold", {}),
        ("draft", "ship", {"complete": True}),
        ("placed", "reopen", {}),
        ("placed", "expire", {}),
    ],
)
def test_disallowed_transition_raises_and_changes_nothing(source, name, kwargs):
    order = _order_in(source)
    with pytest.raises(TransitionNotAllowed):
        getattr(order, name)(**kwargs)
    assert order.state == source
    order.refresh_from_db()
    assert order.state == source


def test_state_cannot_be_assigned_directly():
    order = OrderFactory()
    with pytest.raises(AttributeError):
        order.state = "placed"


def test_place_hidden_when_provider_does_not_support_it(merchant):
    merchant.account.provider = "unknown-provider"
    merchant.account.save()
    order = OrderFactory(merchant=merchant)
    assert not can_proceed(order.place)
    assert can_proceed(order.cancel)  # a local draft can always be cancelled


def test_cancel_after_placement_follows_the_provider_table():
    order = _order_in("placed")
    order.external_id = "X1"
    order.raw_status = "SENT"  # fake table: SENT -> DONE only
    assert not can_proceed(order.cancel)
    order.raw_status = "WORKING"  # WORKING -> CANCELLED allowed
    assert can_proceed(order.cancel)


def test_item_transitions_follow_provider_next_statuses():
    item = OrderItemFactory()
    item.next_statuses = ["6"]  # provider allows only Acknowledged now
    assert can_proceed(item.acknowledge)
    assert not can_proceed(item.hold)
    assert not can_proceed(item.ship)
    item.next_statuses = None  # no provider list: the table's next for raw status 0
    item.raw_status = "0"
    assert can_proceed(item.hold) and can_proceed(item.ship)


def test_item_and_shipment_transitions():
    item = OrderItemFactory(raw_status="0")
    item.ship()
    item.save()
    assert OrderItem.objects.get(pk=item.pk).state == ItemLifecycle.SHIPPED
    shipment = Shipment.objects.create(order=item.order, tracking_number="T1")
    shipment.ship()
    shipment.save()
    shipment.deliver()
    shipment.save()
    assert Shipment.objects.get(pk=shipment.pk).state == "delivered"
    with pytest.raises(TransitionNotAllowed):
        shipment.cancel()
