from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Order, OrderEvent
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


def _create_body(shop, **extra):
    body = {
        "merchant": shop.pk,
        "contact_name": "Grace Hopper", "contact_email": "grace@example.test",
        "address_line1": "1 Main St", "city": "Arlington", "postal_code": "22201",
        "country": "us", "currency": "USD", "shipping_total": "4.50",
        "provider_options": {"carrier": "dhl"},
        "items": [{"sku": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "5.25"},
                  {"product_id": "P-9", "quantity": 1, "unit_price": "1.00",
                   "variant": {"color": "red"}}],
    }
    body.update(extra)
    return body


# --- auth ----------------------------------------------------------------------------------
def test_anonymous_request_is_401_in_the_error_shape(db):
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_bad_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_session_login_works_for_the_browsable_api(operator_api, order):
    response = operator_api.get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert order.reference in response.content.decode()


def test_readonly_user_can_read_but_not_write(readonly_user, order):
    client = APIClient()
    client.force_login(readonly_user)
    assert client.get(f"{URL}{order.pk}/").status_code == 200
    response = client.post(URL, _create_body(order.merchant), format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


# --- create --------------------------------------------------------------------------------
def test_create_makes_a_draft_with_address_items_and_totals(api, merchant):
    response = api.post(URL, _create_body(merchant), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert response["Location"] == f"{URL}{order.pk}/"
    assert body["state"] == "draft" and body["merchant"] == merchant.pk
    assert body["country"] == "US"
    assert body["items_total"] == "11.50" and body["total"] == "16.00"
    assert [i["sku"] for i in body["items"]] == ["SKU-1", ""]
    assert body["items"][1]["variant"] == {"color": "red"}
    assert body["provider_options"] == {"carrier": "dhl"}
    assert body["timeline"][0]["message"] == "Order created"
    assert body["timeline"][0]["actor"] == "api-erp"
    assert order.items.count() == 2


def test_create_with_own_reference(api, merchant):
    response = api.post(URL, _create_body(merchant, reference="SHOP-1001"), format="json")
    assert response.status_code == 201
    assert response.json()["reference"] == "SHOP-1001"
    again = api.post(URL, _create_body(merchant, reference="SHOP-1001"), format="json")
    assert again.status_code == 409  # well formed, but conflicts with a stored order
    assert again.json()["error"]["code"] == "conflict"
    assert "reference" in again.json()["error"]["fields"]


def test_create_validation_errors_name_every_field(api, merchant):
    body = _create_body(merchant, contact_email="not-an-email", country="USA",
                        shipping_total="-1", adress_line1="typo")
    body["items"][0]["quantity"] = 0
    body["items"][1]["unit_price"] = "12345678901234.00"
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) >= {"contact_email", "country", "shipping_total", "adress_line1",
                                    "items.0.quantity", "items.1.unit_price"}
    assert error["fields"]["adress_line1"] == ["Unknown field."]
    assert Order.objects.count() == 0


def test_create_refuses_item_without_sku_or_product(api, merchant):
    response = api.post(URL, _create_body(merchant, items=[{"name": "?"}]), format="json")
    assert response.status_code == 400
    assert "items.0.sku" in response.json()["error"]["fields"]


@pytest.mark.parametrize("merchant_value", ["abc", None, True, 1.5, [1], "5"])
def test_create_with_bad_merchant_is_400_naming_merchant(api, merchant, merchant_value):
    response = api.post(URL, _create_body(merchant, merchant=merchant_value), format="json")
    assert response.status_code == 400
    assert "merchant" in response.json()["error"]["fields"]


@pytest.mark.parametrize("merchant_value", [999999, 10**30])
def test_create_for_a_missing_merchant_is_404_naming_merchant(api, merchant, merchant_value):
    # well formed (the schema allows any id), but no such merchant
    response = api.post(URL, _create_body(merchant, merchant=merchant_value), format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "merchant" in response.json()["error"]["fields"]


@pytest.mark.parametrize("raw", [
    b"{not json", b"[]", b'"text"', b"123", b'{"merchant": 1, "items": {"a": 1}}',
    b'{"contact_name": "a\\u0000b"}', b'{"contact_name": "\\ud800"}',
    b'{"shipping_total": 1e400}', b"[" * 5000 + b"]" * 5000,
    b'{"provider_options": ' + b'{"a":' * 50 + b"1" + b"}" * 50 + b"}",
    b'{"items": [{"sku": "x", "quantity": 99999999999999999999999999}]}',
])
def test_garbage_bodies_are_400_never_500(api, merchant, raw):
    response = api.post(URL, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("invalid", "parse_error")


def test_non_json_content_type_is_415(api, merchant):
    response = api.post(URL, "merchant=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


# --- read ----------------------------------------------------------------------------------
def test_detail_has_items_shipments_and_timeline(api, order):
    OrderEvent.objects.create(order=order, kind="note", message="hello")
    response = api.get(f"{URL}{order.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert {i["sku"] for i in body["items"]} == {"SKU-A", "SKU-B"}
    assert body["shipments"] == []
    assert body["timeline"][0]["message"] == "hello"
    assert "raw_data" not in body


@pytest.mark.parametrize("pk", ["0", "abc", "1.5", "99999999999999999999999", "-1"])
def test_detail_of_missing_or_malformed_id_is_404_json(api, order, pk):
    response = api.get(f"{URL}{pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_api_path_is_404_json(api):
    response = api.get("/api/v1/nothing/here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_list_filters(api, merchant):
    other = MerchantFactory(account=AccountFactory(provider="tipser"))
    a = OrderFactory(merchant=merchant, reference="REF-A", external_id="X-1")
    b = OrderFactory(merchant=other, reference="REF-B", state="placed")
    old = OrderFactory(merchant=merchant, reference="REF-OLD")
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    shipment_order = OrderFactory(merchant=merchant, reference="REF-S", state="shipped")
    shipment_order.shipments.create(tracking_number="TRK-1")
    shipment_order.shipments.create(tracking_number="TRK-1")  # twice: still one row

    def refs(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.json()
        return sorted(o["reference"] for o in response.json()["results"])

    assert refs(merchant=merchant.pk) == ["REF-A", "REF-OLD", "REF-S"]
    assert refs(provider="tipser") == ["REF-B"]
    assert refs(state="placed") == ["REF-B"]
    assert refs(state=["placed", "shipped"]) == ["REF-B", "REF-S"]
    assert refs(reference="REF-A") == ["REF-A"]
    assert refs(external_id="X-1") == ["REF-A"]
    assert refs(tracking_number="TRK-1") == ["REF-S"]
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert "REF-OLD" not in refs(created_after=since)
    assert refs(created_before=since) == ["REF-OLD"]
    assert len(refs(updated_after=since)) == 4
    assert refs(state="placed", page_size=50, ordering="reference") == ["REF-B"]
    assert a and b


def test_the_filter_form_is_built_only_when_a_filter_is_asked_for(api, merchant, monkeypatch):
    from orders.api.filters import OrderFilter

    built = []
    original = OrderFilter.__init__

    def counting_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(OrderFilter, "__init__", counting_init)
    OrderFactory(merchant=merchant, reference="REF-A")
    assert api.get(URL, {"page": 1, "page_size": 10, "ordering": "reference"}).status_code == 200
    assert built == []
    assert api.get(URL, {"page_size": 10, "reference": "REF-A"}).json()["count"] == 1
    assert api.get(URL, {"page_size": 10, "unknown": "x"}).status_code == 200
    assert built == [1, 1]


@pytest.mark.parametrize("params", [
    {"state": "nonsense"}, {"merchant": "x"}, {"merchant": "1" * 30}, {"provider": "nope"},
    {"created_after": "yesterday"},
])
def test_bad_filters_are_400_naming_the_filter(api, order, params):
    response = api.get(URL, params)
    assert response.status_code == 400
    assert set(params) <= set(response.json()["error"]["fields"])


def test_ordering_and_pagination(api, merchant):
    for n in range(5):
        OrderFactory(merchant=merchant, reference=f"R-{n}")
    response = api.get(URL, {"ordering": "reference", "page_size": 2})
    body = response.json()
    assert body["count"] == 5
    assert [o["reference"] for o in body["results"]] == ["R-0", "R-1"]
    assert "page=2" in body["next"]
    page3 = api.get(URL, {"ordering": "-reference", "page_size": 2, "page": 3}).json()
    assert [o["reference"] for o in page3["results"]] == ["R-0"]
    assert api.get(URL, {"page": 99}).status_code == 404


def test_page_size_beyond_the_maximum_is_400(api, merchant, settings):
    OrderFactory(merchant=merchant)
    response = api.get(URL, {"page_size": settings.API_MAX_PAGE_SIZE + 1})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"page_size"}
    assert len(api.get(URL, {"page_size": settings.API_MAX_PAGE_SIZE}).json()["results"]) == 1


def _list_queries(client, url, n):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"page_size": n})
    assert response.status_code == 200
    assert len(response.json()["results"]) == n
    return len(ctx.captured_queries)


def test_order_list_query_count_does_not_grow_with_page_size(api, scoped_api, merchant,
                                                            django_assert_num_queries):
    merchants = [merchant, *MerchantFactory.create_batch(4)]
    for n in range(50):
        order = OrderFactory(merchant=merchants[n % 5])
        OrderItemFactory(order=order)
    for client in (api, scoped_api):  # a token's first use records last_used_at (once a minute)
        client.get(URL, {"page_size": 1})
    five = _list_queries(api, URL, 5)
    with django_assert_num_queries(five):
        api.get(URL, {"page_size": 50})
    # a scoped token costs the same whatever the page size too
    for _ in range(10):
        OrderFactory(merchant=merchant)
    assert _list_queries(scoped_api, URL, 5) == _list_queries(scoped_api, URL, 20)


# --- partial update --------------------------------------------------------------------------
def test_patch_changes_a_draft_and_records_it(api, order):
    response = api.patch(f"{URL}{order.pk}/", {"city": "Paris", "shipping_total": "3.00"},
                         format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["city"] == "Paris"
    assert response.json()["total"] == "31.50"
    order.refresh_from_db()
    assert order.city == "Paris"
    assert order.events.filter(message__contains="city").exists()


def test_patch_refuses_unknown_and_read_only_fields(api, order):
    response = api.patch(f"{URL}{order.pk}/", {"state": "placed", "merchant": 2}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"state", "merchant"}


def test_patch_of_a_placed_order_is_409(api, merchant):
    order = OrderFactory(merchant=merchant, state="placed")
    response = api.patch(f"{URL}{order.pk}/", {"city": "Paris"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_allowed"
    order.refresh_from_db()
    assert order.city == "London"


def test_json_bodies_are_not_logged_with_secrets(api, order):
    # the API never returns provider credentials, even indirectly through the order
    body = json.dumps(api.get(f"{URL}{order.pk}/").json())
    assert "supersecret" not in body


def test_unknown_api_path_is_404_json_for_any_method(operator_api):
    for method in ("post", "delete", "patch", "put"):
        response = getattr(operator_api, method)("/api/v1/orders/1/items/x,y/")
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"


def test_empty_patch_changes_nothing(api, order):
    response = api.patch(f"{URL}{order.pk}/", {}, format="json")
    assert response.status_code == 200
    assert not order.events.exists()


def test_browsable_api_pages_render(operator_api, order):
    for url in (URL, f"{URL}{order.pk}/", f"{URL}{order.pk}/transitions/",
                f"{URL}{order.pk}/items/", f"{URL}{order.pk}/shipments/",
                "/api/v1/merchants/", f"/api/v1/merchants/{order.merchant_id}/",
                "/api/v1/accounts/", "/api/v1/shipments/"):
        response = operator_api.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert "text/html" in response["Content-Type"]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Stockholm"])
def test_list_rows_are_exactly_what_the_order_serializer_renders(api, merchant, rf, settings, zone):
    """The list renders from .values() for speed; it must not drift from OrderSerializer."""
    from decimal import Decimal

    settings.TIME_ZONE = zone

    from orders.api import serializers as s

    placed = OrderFactory(merchant=merchant, total=Decimal("12.5"), shipping_total=Decimal("3"),
                          provider_options={"carrierId": 39, "note": "ü"},
                          external_ids=["A", "B"], external_id="A", raw_status="NEW",
                          failure_reason="", placed_at=timezone.now())
    placed.sync_state(target="placed")
    placed.save()
    OrderFactory(merchant=MerchantFactory(), contact_email="", country="", raw_status="",
                 expires_at=timezone.now() + dt.timedelta(days=7))
    response = api.get("/api/v1/orders/", {"ordering": "id"})
    assert response.status_code == 200
    listed = response.json()["results"]
    request = rf.get("/api/v1/orders/")
    expected = json.loads(json.dumps(
        s.OrderSerializer(Order.objects.order_by("id"), many=True,
                          context={"request": request}).data, default=str))
    assert listed == expected
    assert listed[0]["raw_status_label"] == "New" and listed[0]["total"] == "12.50"
