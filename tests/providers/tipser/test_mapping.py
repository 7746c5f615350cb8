from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from orders.lifecycle import Lifecycle as L
from providers.errors import ProviderBadReply
from providers.tipser import mapping
from providers.types import ItemSnapshot

from .conftest import fixture


def test_documented_detail_reply_maps_to_snapshot():
    snap = mapping.parse_order(fixture("order_detail.json"))
    assert snap.external_id == "5be5e8c4ac564b000165003f"
    assert snap.reference == "21660"
    assert snap.raw_status == "3"  # order-level status kept raw (values unpublished)
    assert snap.state == L.SHIPPED  # derived from the one item, which is Shipped
    assert snap.ordered_at == dt.datetime(2018, 11, 9, 20, 6, 28, 853000, tzinfo=dt.UTC)
    assert snap.currency == "EUR"
    assert snap.total == Decimal("39.90") and snap.shipping_total == Decimal("0.00")
    addr = snap.address
    assert (addr.contact_name, addr.email, addr.phone_number) == (
        "John Doe",
        "5be5e8c4ac564b000165003d@mailinator.com",
        "Doe",
    )
    assert (addr.line1, addr.postal_code, addr.city, addr.country) == (
        "1600 Pennsylvania Ave NW",
        "DC 20500",
        "Washington",
        "US",
    )
    assert snap.billing_address.line1 == "1600 Pennsylvania Ave NW"  # homeAddress
    [item] = snap.items
    assert item.external_id == "5be5e8c4ac564b000165003e"
    assert (item.product_id, item.sku, item.name) == (
        "5aa16508c0bdfb2ca4045088",
        "8809389031511",
        "POMEGRANATE",
    )
    assert item.quantity == 1 and item.variant is None
    assert item.total_price == Decimal("39.90") and item.unit_price == Decimal("39.90")
    assert item.tax_amount == Decimal("6.37") and item.merchant_price == Decimal("27.93")
    assert item.raw_status == "2" and item.next_statuses == ["4"]
    assert item.raw["merchantProductId"] == "185851052051"
    assert item.raw["totalPriceExVat"]["value"] == 33.53
    # shipping preferences and activity log stay with the order's raw data
    assert snap.raw["shippingPreferences"] == {
        "shippingProvider": "DHL",
        "sendDeliveryNoteToCustomer": True,
    }
    assert snap.raw["activityLogs"][0]["text"]["newState"] == "Shipped"


def test_documented_list_reply_maps_every_order_and_count():
    orders, count = mapping.parse_order_page(fixture("order_list.json"))
    assert count == 1
    assert [o.external_id for o in orders] == ["5be5e8c4ac564b000165003f"]


def test_next_statuses_example_maps_to_new_order_with_provider_next_statuses():
    snap = mapping.parse_order(fixture("order_new_next_statuses.json"))
    assert snap.state == L.PLACED
    assert snap.items[0].next_statuses == ["1", "2", "3", "6"]
    assert snap.address.contact_name == "aaaa" and snap.total is None


def test_home_address_used_when_flagged_as_delivery_address():
    raw = fixture("order_detail.json")
    raw["customer"]["useHomeAddressAsDeliveryAddress"] = True
    raw["customer"]["homeAddress"]["city"] = "Home city"
    assert mapping.parse_order(raw).address.city == "Home city"


def test_odd_field_types_are_data_not_crashes():
    raw = fixture("order_detail.json")
    raw["customer"] = "nobody"
    raw["items"][0].update(
        quantity="two",
        totalPriceIncVat={"value": "n/a"},
        status=5,
        nextStatuses="all",
        attributesValue="Size: M",
    )
    raw["orderDate"] = "yesterday"
    snap = mapping.parse_order(raw)
    item = snap.items[0]
    assert item.quantity == 1 and item.total_price is None and item.next_statuses is None
    assert item.raw_status == "5" and item.variant == {"attributesValue": "Size: M"}
    assert snap.ordered_at is None and snap.address.contact_name == ""
    assert snap.state == L.IN_PROGRESS  # unknown item code 5: still being worked on


@pytest.mark.parametrize("body", [None, [], {"itemsCount": 1}, {"items": "x"}, "<html>"])
def test_list_reply_without_items_list_is_a_bad_reply(body):
    with pytest.raises(ProviderBadReply):
        mapping.parse_order_page(body)


def test_list_entry_without_id_is_skipped():
    orders, _ = mapping.parse_order_page(
        {"itemsCount": 2, "items": [{"orderNumber": "1"}, fixture("order_detail.json")]}
    )
    assert len(orders) == 1


@pytest.mark.parametrize(
    ("codes", "state"),
    [
        ([], L.IN_PROGRESS),
        (["0", "0"], L.PLACED),
        (["0", "6"], L.IN_PROGRESS),
        (["1", "1"], L.ON_HOLD),
        (["1", "3"], L.ON_HOLD),
        (["2", "0"], L.PARTIALLY_SHIPPED),
        (["2", "3"], L.SHIPPED),
        (["2", "4"], L.SHIPPED),
        (["3", "3"], L.CANCELLED),
    ],
)
def test_order_state_is_derived_from_item_states(codes, state):
    items = [ItemSnapshot(external_id=str(n), raw_status=c) for n, c in enumerate(codes)]
    assert mapping.order_state_from_items(items) == state


def test_request_bodies_follow_the_doc():
    assert mapping.status_body(
        "1", ["5bc9dbf7fe887c00014f3f52"], "Testing to set the status to hold!"
    ) == fixture("status_update_request.json")
    assert (
        mapping.shipping_body(
            carrier="", tracking_number="T1", comment="c", notify=False, item_ids=["a"]
        )["shippingProvider"]
        is None
    )


@pytest.mark.parametrize(
    "body",
    [
        [{"id": "se", "shippingProviders": ["PostNord", "DHL"]}],
        {"markets": [{"shippingProviders": [{"name": "PostNord"}, {"id": "DHL"}]}]},
        {"se": {"carriers": ["DHL", "PostNord", None, 5]}},
    ],
)
def test_carriers_are_found_in_any_market_shape(body):
    assert {"DHL", "PostNord"} <= set(mapping.parse_carriers(body))


def test_carriers_of_an_unexpected_markets_reply_are_empty():
    assert mapping.parse_carriers({"markets": "soon"}) == []
    assert mapping.parse_carriers(None) == []
