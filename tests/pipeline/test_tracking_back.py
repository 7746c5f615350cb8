"""Suppliers' tracking goes back to Tipser for exactly the linked items, once."""

from __future__ import annotations

import json

import pytest
import responses

from orders import services as order_services
from pipeline import services
from pipeline.models import TrackingPush
from pipeline.selectors import supplier_orders_of
from tests.providers.tipser.conftest import API_KEY, ORDERS_URL

from .conftest import FAKE, sync, three_item_sale

pytestmark = pytest.mark.django_db
MARKETS = "https://t3-stage-api.tipser.com/v3/markets"


@pytest.fixture
def routed(account, tipser_merchant, policy, offers, mocked, django_capture_on_commit_callbacks):
    mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    mocked.get(MARKETS, json=[{"code": "SE", "carriers": [{"name": "PostNord"}, {"name": "DHL"}]}])
    mocked.post(f"{ORDERS_URL}/{sale.external_id}/shipping", json={})
    mocked.put(f"{ORDERS_URL}/{sale.external_id}", json={})
    return sale


def _supplier_ships(mocked, supplier_order, capture, *, tracking="TRK-A", carrier="DHL Express"):
    """The supplier reports a shipment on sync (Fake provider's order read)."""
    body = {"id": supplier_order.external_id, "status": "SENT",
            "items": [], "shipping": [{"tracking": tracking, "carrier": carrier}]}
    url = f"{FAKE}/orders/{supplier_order.external_id}"
    mocked.upsert(responses.GET, url, json=body)
    with capture(execute=True):
        order_services.order_sync(order=supplier_order)


def _pushes(mocked):
    return [json.loads(c.request.body) for c in mocked.calls
            if c.request.method == "POST" and c.request.url.split("?")[0].endswith("/shipping")]


def test_a_supplier_shipment_pushes_tracking_for_exactly_its_items_once(
    routed, mocked, django_capture_on_commit_callbacks
):
    sale = routed
    a_order, b_order = supplier_orders_of(sale)
    _supplier_ships(mocked, a_order, django_capture_on_commit_callbacks)

    [push] = _pushes(mocked)
    sale_items = {i.sku: i.external_id for i in sale.items.all()}
    assert sorted(push["orderItemsIds"]) == sorted([sale_items["SKU-1"], sale_items["SKU-2"]])
    assert push["trackingNumber"] == "TRK-A" and push["shippingProvider"] == "DHL"
    assert TrackingPush.objects.get().state == "pushed"
    sale.refresh_from_db()
    assert sale.state == "partially_shipped"
    assert {i.sku: i.state for i in sale.items.all()} == {
        "SKU-1": "shipped", "SKU-2": "shipped", "SKU-3": "acknowledged"}
    assert sale.routing.status == "routed"

    # a re-sync of the supplier order, and a sweep, push nothing again
    _supplier_ships(mocked, a_order, django_capture_on_commit_callbacks)
    services.supplier_tracking_push(supplier_order=a_order)
    assert len(_pushes(mocked)) == 1

    # the second supplier ships with a carrier Tipser does not list: "other", named in the comment
    _supplier_ships(mocked, b_order, django_capture_on_commit_callbacks, tracking="TRK-B", carrier="Yanwen")
    second = _pushes(mocked)[1]
    assert second["orderItemsIds"] == [sale_items["SKU-3"]]
    assert second["shippingProvider"] is None and "Yanwen" in second["comment"]
    sale.refresh_from_db()
    assert sale.state == "shipped" and sale.routing.status == "tracking"
    assert all(API_KEY in c.request.url for c in mocked.calls if "tipser" in c.request.url)


def test_a_claimed_push_is_never_sent_again(routed, mocked, django_capture_on_commit_callbacks):
    a_order = supplier_orders_of(routed)[0]
    shipment = a_order.shipments.create(carrier="DHL", tracking_number="TRK-X")
    TrackingPush.objects.filter(supplier_shipment=shipment).delete()
    TrackingPush.objects.create(supplier_shipment=shipment, sales_order=routed)  # another worker's claim
    assert services.supplier_tracking_push(supplier_order=a_order) == []
    assert _pushes(mocked) == []


def test_a_refused_push_flags_the_sale_and_is_not_retried_blindly(
    routed, mocked, django_capture_on_commit_callbacks
):
    sale = routed
    mocked.replace(responses.POST, f"{ORDERS_URL}/{sale.external_id}/shipping", status=400,
                   json={"error": {"id": "IncorrectInputData", "message": "Bad tracking"}})
    a_order = supplier_orders_of(sale)[0]
    _supplier_ships(mocked, a_order, django_capture_on_commit_callbacks)
    push = TrackingPush.objects.get()
    assert push.state == "failed" and "Bad tracking" in push.error
    sale.routing.refresh_from_db()
    assert sale.routing.status == "problem" and "TRK-A" in sale.routing.reason
    services.supplier_tracking_push(supplier_order=a_order)
    assert len(_pushes(mocked)) == 1


def test_a_push_refused_because_the_sale_is_busy_is_released_and_sent_later(
    routed, mocked, django_capture_on_commit_callbacks
):
    from orders.models import ProviderWrite

    a_order = supplier_orders_of(routed)[0]
    shipment = a_order.shipments.create(carrier="DHL", tracking_number="TRK-BUSY")
    TrackingPush.objects.filter(supplier_shipment=shipment).delete()
    busy = ProviderWrite.objects.create(order=routed, operation="push_shipment", key="other")  # in flight
    [released] = services.supplier_tracking_push(supplier_order=a_order)
    assert released.pk is None and not TrackingPush.objects.filter(supplier_shipment=shipment).exists()
    assert _pushes(mocked) == []
    routed.routing.refresh_from_db()
    assert routed.routing.status != "problem"
    busy.delete()
    [pushed] = services.supplier_tracking_push(supplier_order=a_order)
    assert pushed.state == "pushed" and len(_pushes(mocked)) == 1
