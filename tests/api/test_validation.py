"""Finding 6 (issue 21): money and quantities are never negative, countries are ISO 3166-1
alpha-2, currencies ISO 4217 — the same rules for the API, the admin, the services, imports
and the database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from orders import services, snapshots
from orders.errors import OrderValidationError
from orders.models import Order, OrderItem
from providers.types import AddressData, ItemSnapshot, OrderSnapshot
from tests.factories import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


def _body(merchant, **extra):
    body = {"merchant": merchant.pk, "contact_name": "Grace", "address_line1": "1 Main St",
            "city": "Arlington", "postal_code": "22201", "country": "US", "currency": "USD",
            "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": "5.00"}]}
    body.update(extra)
    return body


@pytest.mark.parametrize(("field", "value"), [("unit_price", "-1.00"),
                                              ("merchant_price", "-0.01"),
                                              ("merchant_price", ""), ("merchant_price", " ")])
def test_api_refuses_a_negative_item_price_naming_the_field(api, merchant, field, value):
    item = {"sku": "SKU-1", "quantity": 1, "unit_price": "5.00", field: value}
    response = api.post(URL, _body(merchant, items=[item]), format="json")
    assert response.status_code == 400
    assert f"items.0.{field}" in response.json()["error"]["fields"]
    assert not Order.objects.exists()


def test_api_takes_null_for_a_nullable_price(api, merchant):
    item = {"sku": "SKU-1", "quantity": 1, "unit_price": "5.00", "merchant_price": None}
    response = api.post(URL, _body(merchant, items=[item]), format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(("field", "value"), [("country", "XX"), ("country", "U1"),
                                              ("currency", "€€€"), ("currency", "EURO"),
                                              ("currency", "ABC")])
def test_api_refuses_codes_that_are_not_iso(api, merchant, field, value):
    response = api.post(URL, _body(merchant, **{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_api_patch_refuses_a_bad_country_and_keeps_the_order(api, order):
    response = api.patch(f"{URL}{order.pk}/", {"country": "XX"}, format="json")
    assert response.status_code == 400
    assert "ISO 3166-1" in response.json()["error"]["fields"]["country"][0]
    order.refresh_from_db()
    assert order.country == "GB"


def test_api_item_add_refuses_a_negative_price(api, order):
    response = api.post(f"{URL}{order.pk}/items/", {"sku": "X", "unit_price": "-3"},
                        format="json")
    assert response.status_code == 400
    assert "unit_price" in response.json()["error"]["fields"]


def test_lower_case_codes_are_accepted_and_stored_upper_case(api, merchant):
    response = api.post(URL, _body(merchant, country="de", currency="chf"), format="json")
    assert response.status_code == 201, response.json()
    order = Order.objects.get()
    assert (order.country, order.currency) == ("DE", "CHF")


def test_services_refuse_negative_prices_for_every_caller(merchant, order):
    with pytest.raises(OrderValidationError) as err:
        services.order_create(merchant=merchant, items=[{"sku": "A", "unit_price": Decimal("-1")}])
    assert "items[0].unit_price" in err.value.fields
    with pytest.raises(OrderValidationError) as err:
        services.order_item_add(order=order, sku="B", merchant_price=Decimal("-2"))
    assert "merchant_price" in err.value.fields
    with pytest.raises(OrderValidationError) as err:
        services.order_update(order=order, currency="€€€")
    assert "currency" in err.value.fields


@pytest.mark.parametrize(("model", "field", "value"), [
    ("order", "total", Decimal("-1")), ("order", "shipping_total", Decimal("-1")),
    ("order", "currency", "€€€"), ("order", "country", "X1"),
    ("item", "unit_price", Decimal("-1")), ("item", "merchant_price", Decimal("-1")),
    ("item", "tax_amount", Decimal("-1")),
])
def test_the_database_refuses_what_slips_past_the_forms(order, model, field, value):
    queryset = (Order.objects.filter(pk=order.pk) if model == "order"
                else OrderItem.objects.filter(order=order))
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**{field: value})


def test_admin_form_refuses_bad_codes_and_negative_prices(client, operator, order):
    client.force_login(operator)
    item = order.items.order_by("pk").first()
    url = reverse("admin:orders_order_change", args=[order.pk])
    page = client.get(url).content.decode()
    import re

    version = re.search(r'name="_base_version" value="([^"]*)"', page)
    data = {
        "contact_name": "Ada", "contact_email": "", "phone_prefix": "", "phone_number": "",
        "address_line1": "1 Road", "address_line2": "", "city": "London", "region": "",
        "postal_code": "N1", "country": "XX", "currency": "€€€", "shipping_total": "-5",
        "provider_options": "{}",
        "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "1", "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000", "items-0-id": str(item.pk), "items-0-order": str(order.pk),
        "items-0-name": "W", "items-0-product_id": "P", "items-0-sku": "S",
        "items-0-quantity": "0", "items-0-unit_price": "-9",
        "shipments-TOTAL_FORMS": "0", "shipments-INITIAL_FORMS": "0",
        "shipments-MIN_NUM_FORMS": "0", "shipments-MAX_NUM_FORMS": "1000",
    }
    if version:
        data["_base_version"] = version.group(1)
    response = client.post(url, data)
    assert response.status_code == 200
    text = response.content.decode()
    assert "XX is not an ISO 3166-1 alpha-2 country code" in text
    assert "is not an ISO 4217 currency code" in text
    assert text.count("Must be 0 or more.") >= 2  # shipping total and the item's price
    assert "Must be at least 1." in text  # the item's quantity
    order.refresh_from_db()
    assert (order.country, order.currency) == ("GB", "EUR")


def test_provider_imports_leave_odd_values_out_instead_of_failing(merchant):
    snap = OrderSnapshot(
        external_id="EXT-1", raw_status="NEW", currency="€€", total=Decimal("-4"),
        address=AddressData(contact_name="A", country="ZZ"),
        items=[ItemSnapshot(external_id="I-1", sku="S", quantity=1, unit_price=Decimal("-1"),
                            total_price=Decimal("2"))],
        raw={"currency": "€€"},
    )
    snapshots.upsert_page(account=merchant.account, page=[snap])
    order = Order.objects.get(external_id="EXT-1")
    assert order.country == "" and order.currency == "EUR" and order.total >= 0
    assert order.items.get().unit_price is None
    assert order.raw_data == {"currency": "€€"}


def test_factories_still_make_valid_orders(order):
    OrderItemFactory(order=OrderFactory())
    for obj in [order, *order.items.all()]:
        obj.full_clean(exclude=["order", "state", "merchant", "reference"])
