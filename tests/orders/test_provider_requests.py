"""What a provider is handed: frozen copies of our rows, never the rows themselves."""

from __future__ import annotations

import dataclasses
import json

import pytest
import responses

from merchants.provider_requests import account_config, merchant_ref, provider_service
from orders import services
from orders.models import Shipment, ShipmentLine
from orders.provider_requests import item_request, order_request, shipment_request
from providers.types import AccountConfig, ItemRequest, OrderRequest, ShipmentRequest
from tests.factories import OrderItemFactory
from tests.fake_provider import BASE_URL, FakeService

pytestmark = pytest.mark.django_db


def test_an_order_request_is_a_frozen_copy_with_its_items_and_merchant(order):
    order.provider_options = {"carrierId": "39", "nested": {"a": 1}}
    order.raw_data = {"shippingPreferences": {"shippingProvider": "DHL"}}
    order.save()
    request = order_request(order)
    assert isinstance(request, OrderRequest)
    assert request.reference == order.reference and request.pk == order.pk
    assert request.merchant == merchant_ref(order.merchant)
    assert [(i.pk, i.sku, i.quantity) for i in request.items] == [
        (i.pk, i.sku, i.quantity) for i in order.items.order_by("pk")]
    assert all(isinstance(i, ItemRequest) for i in request.items)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.external_id = "x"  # type: ignore[misc]
    # JSON is copied: whatever a provider does to it never reaches the model
    request.provider_options["nested"]["a"] = 2
    request.raw_data["shippingPreferences"]["shippingProvider"] = "UPS"
    order.refresh_from_db()
    assert order.provider_options["nested"] == {"a": 1}
    assert order.raw_data["shippingPreferences"]["shippingProvider"] == "DHL"


def test_a_shipment_request_carries_its_lines_items(order):
    item = order.items.order_by("pk").first()
    shipment = Shipment.objects.create(order=order, carrier="DHL", tracking_number="T1",
                                       comment="c", notify_customer=False)
    ShipmentLine.objects.create(shipment=shipment, item=item, quantity=1)
    request = shipment_request(shipment)
    assert isinstance(request, ShipmentRequest)
    assert (request.carrier, request.tracking_number, request.notify_customer) == ("DHL", "T1", False)
    assert [(line.item, line.quantity) for line in request.lines] == [(item_request(item), 1)]
    assert request.order.reference == order.reference


def test_an_account_config_hides_its_credentials_from_repr(order):
    account = order.merchant.account
    config = account_config(account)
    assert isinstance(config, AccountConfig)
    assert (config.pk, config.provider, config.base_url) == (account.pk, "fake", account.base_url)
    assert config.credentials == dict(account.credentials)
    assert config.credentials_readable
    assert str(config) == str(account)
    for value in account.credentials.values():
        assert str(value) not in repr(config)
    assert isinstance(provider_service(account).account, AccountConfig)


def test_every_provider_call_of_a_placement_gets_requests_not_models(mocked, order, monkeypatch):
    seen: list[tuple[str, type]] = []
    original_validate = FakeService.validate_for_placement
    original_place = FakeService.place_order

    def validate(self, request):  # type: ignore[no-untyped-def]
        seen.append(("validate", type(request)))
        return original_validate(self, request)

    def place(self, request):  # type: ignore[no-untyped-def]
        seen.append(("place", type(request)))
        assert all(isinstance(i, ItemRequest) for i in request.items)
        assert isinstance(self.account, AccountConfig)
        return original_place(self, request)

    monkeypatch.setattr(FakeService, "validate_for_placement", validate)
    monkeypatch.setattr(FakeService, "place_order", place)
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 7, "status": "NEW"})
    services.order_place(order=order)
    assert seen == [("validate", OrderRequest), ("place", OrderRequest)]
    assert json.loads(mocked.calls[0].request.body)["ref"] == order.reference


def test_a_new_item_is_in_the_next_request(order):
    before = len(order_request(order).items)
    OrderItemFactory(order=order, sku="SKU-NEW")
    assert len(order_request(order).items) == before + 1
