"""No lost work (issue 21, finding 9): the order change form carries its base version; a save
whose base moved meanwhile is refused with what changed, and the operator's input is shown
back — never dropped under "changed successfully"."""

from __future__ import annotations

import re

import pytest
import responses
from django.urls import reverse

from orders import services
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db


def _open(client, order) -> str:
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    match = re.search(r'name="_base_version" value="([^"]+)"', page)
    assert match, "the change form carries its base version"
    return match.group(1)


def _form(order, base: str, **changes) -> dict[str, str]:
    items = list(order.items.order_by("pk"))
    data = {
        "_base_version": base, "reference": order.reference,
        "contact_name": order.contact_name, "contact_email": order.contact_email,
        "phone_prefix": order.phone_prefix, "phone_number": order.phone_number,
        "address_line1": order.address_line1, "address_line2": order.address_line2,
        "city": order.city, "region": order.region, "postal_code": order.postal_code,
        "country": order.country, "currency": order.currency,
        "shipping_total": str(order.shipping_total), "provider_options": "{}",
        "items-TOTAL_FORMS": str(len(items)), "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000",
        "shipments-TOTAL_FORMS": "0", "shipments-INITIAL_FORMS": "0",
        "shipments-MIN_NUM_FORMS": "0", "shipments-MAX_NUM_FORMS": "1000",
    }
    for n, item in enumerate(items):
        data.update({f"items-{n}-id": str(item.pk), f"items-{n}-order": str(order.pk),
                     f"items-{n}-name": item.name, f"items-{n}-product_id": item.product_id,
                     f"items-{n}-sku": item.sku, f"items-{n}-quantity": str(item.quantity),
                     f"items-{n}-unit_price": str(item.unit_price or "")})
    data.update(changes)
    return data


def _save(client, order, data):
    return client.post(reverse("admin:orders_order_change", args=[order.pk]), data)


def test_address_correction_after_the_worker_placed_the_order_is_refused_and_shown_back(
    operator_client, order, mocked
):
    base = _open(operator_client, order)
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 42, "status": "NEW"})
    services.order_place(order=order)  # the worker, meanwhile

    response = _save(operator_client, order, _form(order, base, address_line1="221B Baker St"))

    assert response.status_code == 409
    text = response.content.decode()
    assert re.search(r"This order was placed by the worker at \d\d:\d\d while you were "
                     r"editing; your changes were not saved", text)
    assert "221B Baker St" in text  # the operator's input, shown back
    assert "changed successfully" not in text
    order.refresh_from_db()
    assert order.state == "placed" and order.address_line1 == "10 Downing Street"
    assert "Apply my changes" not in text  # placed: not editable here any more


def test_an_edit_by_someone_else_meanwhile_is_named_and_can_be_applied_again(
    operator_client, order, django_user_model
):
    base = _open(operator_client, order)
    colleague = django_user_model.objects.create_user("grace", is_staff=True)
    services.order_update(order=order, actor=colleague, city="Cambridge")

    response = _save(operator_client, order, _form(order, base, postal_code="CB2 1TN",
                                                   city="London"))
    assert response.status_code == 409
    text = response.content.decode()
    assert "This order was changed by grace at" in text
    assert "CB2 1TN" in text
    order.refresh_from_db()
    assert (order.city, order.postal_code) == ("Cambridge", "SW1A 2AA")

    # "Apply my changes to the current order": the same input on top of the new version
    resend = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', text))
    resend.pop("csrfmiddlewaretoken", None)
    assert _save(operator_client, order, resend).status_code == 302
    order.refresh_from_db()
    assert (order.city, order.postal_code) == ("London", "CB2 1TN")


def test_an_item_inline_edit_on_a_stale_form_is_refused(operator_client, order):
    base = _open(operator_client, order)
    services.order_item_add(order=order, sku="NEW-1", quantity=1)  # an integration, meanwhile
    first = order.items.order_by("pk").first()
    data = _form(order, base, **{"items-0-quantity": "7"})
    response = _save(operator_client, order, data)
    assert response.status_code == 409
    assert "Items you sent" in response.content.decode()
    first.refresh_from_db()
    assert first.quantity != 7


def test_an_unchanged_base_saves_as_before(operator_client, order):
    base = _open(operator_client, order)
    response = _save(operator_client, order, _form(order, base, city="Oxford",
                                                   **{"items-0-quantity": "3"}))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.city == "Oxford" and order.items.order_by("pk").first().quantity == 3


def test_a_form_with_errors_keeps_the_operators_base(operator_client, order):
    base = _open(operator_client, order)
    response = _save(operator_client, order, _form(order, base, country="XX"))
    assert response.status_code == 200
    assert f'name="_base_version" value="{base}"' in response.content.decode()


def _base_of(client, url: str) -> str:
    page = client.get(url).content.decode()
    match = re.search(r'name="_base_version" value="([^"]+)"', page)
    assert match, "the change form carries its base version"
    return match.group(1)


def test_the_item_change_form_refuses_a_stale_base(operator_client, order):
    from orders.models import OrderItem

    item = order.items.order_by("pk").first()
    url = reverse("admin:orders_orderitem_change", args=[item.pk])
    base = _base_of(operator_client, url)
    other = OrderItem.objects.get(pk=item.pk)  # a second operator saves it meanwhile
    other.name = "Renamed"
    other.save()

    response = operator_client.post(url, {
        "_base_version": base, "product_id": item.product_id, "sku": "SKU-CORRECTED",
        "name": item.name, "variant": "{}", "quantity": str(item.quantity),
        "unit_price": str(item.unit_price), "total_price": "", "tax_amount": "",
        "merchant_price": "", "created_at_0": "2026-01-01", "created_at_1": "00:00:00"})
    assert response.status_code == 409
    text = response.content.decode()
    assert "This order item was changed (now New) while you were editing" in text
    assert "SKU-CORRECTED" in text
    item.refresh_from_db()
    assert (item.sku, item.name) == ("SKU-A", "Renamed")


def test_the_shipment_change_form_refuses_a_stale_base(operator_client, order):
    from orders.models import Shipment

    shipment = Shipment.objects.create(order=order, tracking_number="T-1")
    url = reverse("admin:orders_shipment_change", args=[shipment.pk])
    base = _base_of(operator_client, url)
    other = Shipment.objects.get(pk=shipment.pk)  # saved meanwhile
    other.tracking_number = "T-2"
    other.save()
    response = operator_client.post(url, {
        "_base_version": base, "tracking_number": "T-3", "carrier": "", "service": "",
        "tracking_url": "", "comment": "", "notify_customer": "on", "external_id": "",
        "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
        "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000"})
    assert response.status_code == 409
    assert "T-3" in response.content.decode()
    shipment.refresh_from_db()
    assert shipment.tracking_number == "T-2"
