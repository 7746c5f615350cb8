"""A token limited to some merchants sees and touches nothing else: 404, never 403."""

from __future__ import annotations

import pytest

from orders.models import Order
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_scoped_token_lists_only_its_merchants_orders(scoped_api, order, other_order):
    body = scoped_api.get("/api/v1/orders/").json()
    assert [o["id"] for o in body["results"]] == [order.pk]
    assert scoped_api.get("/api/v1/orders/", {"merchant": other_order.merchant_id}).json()[
        "count"] == 0


def test_scoped_token_gets_404_for_another_merchants_order(scoped_api, other_order):
    base = f"/api/v1/orders/{other_order.pk}/"
    item = other_order.items.first()
    for method, url in [
        ("get", base), ("patch", base), ("get", f"{base}transitions/"),
        ("post", f"{base}transitions/cancel/"), ("post", f"{base}transitions/place/"),
        ("get", f"{base}items/"), ("post", f"{base}items/"), ("get", f"{base}items/{item.pk}/"),
        ("delete", f"{base}items/{item.pk}/"), ("get", f"{base}shipments/"),
        ("post", f"{base}shipments/"), ("post", f"{base}sync/"),
    ]:
        response = getattr(scoped_api, method)(url, {}, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["error"]["code"] == "not_found"
    other_order.refresh_from_db()
    assert other_order.state == "draft" and other_order.items.count() == 1


def test_scoped_token_sees_its_own_order(scoped_api, order):
    assert scoped_api.get(f"/api/v1/orders/{order.pk}/").status_code == 200


def test_scoped_token_cannot_create_orders_for_other_merchants(scoped_api, other_merchant):
    response = scoped_api.post("/api/v1/orders/", {"merchant": other_merchant.pk,
                                                   "items": [{"sku": "A"}]}, format="json")
    assert response.status_code == 404  # not visible to this token: as if it did not exist
    assert "merchant" in response.json()["error"]["fields"]
    assert Order.objects.count() == 0


def test_scoped_token_creates_orders_for_its_merchant(scoped_api, merchant):
    response = scoped_api.post("/api/v1/orders/", {"merchant": merchant.pk,
                                                   "items": [{"sku": "A"}]}, format="json")
    assert response.status_code == 201


def test_scoped_token_merchants_and_shipments(scoped_api, merchant, other_merchant):
    mine = OrderFactory(merchant=merchant, state="shipped")
    theirs = OrderFactory(merchant=other_merchant, state="shipped")
    s1 = mine.shipments.create(tracking_number="MINE")
    s2 = theirs.shipments.create(tracking_number="THEIRS")
    assert [m["id"] for m in scoped_api.get("/api/v1/merchants/").json()["results"]] == [
        merchant.pk]
    assert scoped_api.get(f"/api/v1/merchants/{other_merchant.pk}/").status_code == 404
    # a scoped token may not create authorization links at all (issue 21, finding 5): 403
    # for every merchant alike, which says nothing about whether this one exists
    assert scoped_api.post(f"/api/v1/merchants/{other_merchant.pk}/authorize/",
                           format="json").status_code in (403, 404)
    shipments = scoped_api.get("/api/v1/shipments/").json()["results"]
    assert [s["id"] for s in shipments] == [s1.pk]
    assert scoped_api.get(f"/api/v1/shipments/{s2.pk}/").status_code == 404
    assert scoped_api.get("/api/v1/orders/", {"tracking_number": "THEIRS"}).json()["count"] == 0


def test_unscoped_token_sees_everything(api, order, other_order):
    assert api.get("/api/v1/orders/").json()["count"] == 2
    assert api.get(f"/api/v1/orders/{other_order.pk}/").status_code == 200
