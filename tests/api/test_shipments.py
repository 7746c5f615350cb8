from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import ShipmentLine
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/shipments/"


@pytest.fixture
def shipped(merchant):
    order = OrderFactory(merchant=merchant, state="shipped")
    item = OrderItemFactory(order=order, quantity=2)
    shipment = order.shipments.create(carrier="DHL", tracking_number="TRK-1")
    ShipmentLine.objects.create(shipment=shipment, item=item, quantity=2)
    return shipment


def test_list_detail_and_filters(api, shipped):
    other = OrderFactory(merchant=MerchantFactory(), state="shipped")
    other.shipments.create(carrier="UPS", tracking_number="TRK-2")
    assert api.get(URL).json()["count"] == 2
    detail = api.get(f"{URL}{shipped.pk}/").json()
    assert detail["order"] == shipped.order_id
    assert detail["lines"] == [{"item": shipped.lines.get().item_id, "quantity": 2}]
    for params in ({"tracking_number": "TRK-1"}, {"carrier": "DHL"},
                   {"order": shipped.order_id}, {"merchant": shipped.order.merchant_id}):
        results = api.get(URL, params).json()["results"]
        assert [s["id"] for s in results] == [shipped.pk], params
    assert api.get(URL, {"state": "bogus"}).status_code == 400


def test_shipments_are_read_only_here(api, shipped):
    assert api.post(URL, {}, format="json").status_code == 405
    assert api.delete(f"{URL}{shipped.pk}/").status_code == 405


def test_shipment_list_query_count_does_not_grow_with_page_size(api, merchant):
    for n in range(30):
        order = OrderFactory(merchant=merchant, state="shipped")
        item = OrderItemFactory(order=order)
        shipment = order.shipments.create(tracking_number=f"T{n}")
        ShipmentLine.objects.create(shipment=shipment, item=item)
    api.get(URL, {"page_size": 1})  # a token's first use records last_used_at (once a minute)
    counts = []
    for size in (3, 30):
        with CaptureQueriesContext(connection) as ctx:
            assert len(api.get(URL, {"page_size": size}).json()["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_merchant_and_account_lists_query_count_constant(api, staff_api, django_user_model):
    merchants = MerchantFactory.create_batch(30)
    assert merchants
    for client in (api, staff_api):  # a token's first use records last_used_at (once a minute)
        client.get("/api/v1/merchants/", {"page_size": 1})
    counts = {}
    for size in (3, 30):
        with CaptureQueriesContext(connection) as ctx:
            assert len(api.get("/api/v1/merchants/", {"page_size": size}).json()["results"]) == size
        with CaptureQueriesContext(connection) as ctx2:
            assert len(staff_api.get("/api/v1/accounts/", {"page_size": size}).json()[
                "results"]) == size
        counts[size] = (len(ctx.captured_queries), len(ctx2.captured_queries))
    assert counts[3] == counts[30]
