from __future__ import annotations

import pytest
import responses

from merchants.provider_requests import account_config
from orders import services
from orders.errors import OrderActionRefused
from orders.models import Shipment
from providers.brandsdistribution.service import carrier_choices

from .helpers import CARRIERS, CREATE, fixture, make_order, status_url

pytestmark = pytest.mark.django_db


def _placed(mocked, **kw):
    order = make_order(**kw)
    mocked.add(responses.POST, CREATE, json={"models": [], "order_id": 130})
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    return order


def _status(order_id="130", ext_ref="2345", status=5, **extra):
    return {"orders": [{"order_id": int(order_id), "ext_ref": ext_ref, "status": status,
                        "tracking_code": None, "tracking_url": None, "carrier_name": None,
                        "last_update": "2021/02/03 14:36:55 +0000", "substatus": None, **extra}]}


def test_sync_of_dispatched_order_records_tracking_in_a_shipment(mocked):
    order = _placed(mocked)
    mocked.add(responses.GET, status_url("2345"), json=_status(
        status=3, tracking_code="TNT123", tracking_url="https://track.example/TNT123",
        carrier_name="TNT"))
    services.order_sync(order=order)
    order.refresh_from_db()
    assert (order.state, order.raw_status, order.raw_status_label) == ("shipped", "3", "Dispatched")
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.tracking_number, shipment.tracking_url, shipment.state) == (
        "TNT", "TNT123", "https://track.example/TNT123", Shipment.State.SHIPPED)
    assert order.raw_data["placement"]["order_id"] == "130"  # placement data kept on sync


@pytest.mark.parametrize(("code", "state", "label"), [
    (0, "placed", "Pending"), (1, "placed", "Money waiting"), (2, "in_progress", "To dispatch"),
    (3, "shipped", "Dispatched"), (5, "placed", "Booked"), (2000, "cancelled", "Cancelled"),
    (2002, "failed", "Verify failed (payment not accepted)"), (3001, "in_progress", "Working on"),
    (3002, "in_progress", "Ready"), (5003, "placed", "Dropshipper growing"),
    (9999, "placed", "9999 (undocumented)"),
])
def test_status_codes_map_to_lifecycle_and_unknown_codes_are_data(mocked, code, state, label):
    from tests.factories import orders_needing_action as order_list_needing_action

    order = _placed(mocked)
    mocked.add(responses.GET, status_url("2345"), json=_status(status=code))
    services.order_sync(order=order)
    order.refresh_from_db()
    assert (order.state, order.raw_status, order.raw_status_label) == (state, str(code), label)
    # an unknown code keeps the order where it was and lists it under "Needs action";
    # 2002 (payment not accepted) is a failure there too — never an ordinary hold
    assert (order in order_list_needing_action()) == (code in (9999, 2002))
    # the order exists at the provider: placing it again is never offered
    assert not order.status_table.order_allows("place", raw_status=order.raw_status)


def test_verify_failed_is_a_payment_failure_that_cannot_be_placed_again(mocked, operator):
    order = _placed(mocked)
    mocked.add(responses.GET, status_url("2345"), json=_status(status=2002))
    services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "failed" and order.state != "on_hold"
    available = services.order_transitions_available(order=order, user=operator)
    assert "place" not in available and "hold" not in available and "release" not in available
    with pytest.raises(OrderActionRefused):
        services.order_place(order=order)


@pytest.mark.parametrize("container", ["order_list", "orders"])
def test_sync_in_xml_reads_the_documented_xml_status(mocked, container):
    order = make_order(wire_format="xml")
    mocked.add(responses.POST, CREATE, body=b'<root order_id="130"/>')
    services.order_place(order=order)
    mocked.add(responses.GET, status_url("2345"), body=(
        f"<root><{container}><order><ext_ref>2345</ext_ref>"
        "<last_update>2018/05/25 12:20:37 +0200</last_update><order_id>130</order_id>"
        "<parsedDate>2018/05/25 12:20:37 +0200</parsedDate><status>3002</status>"
        f"<tracking_url>https://t.example/1</tracking_url></order></{container}></root>"
    ).encode())
    services.order_sync(order=order)
    order.refresh_from_db()
    assert (order.state, order.raw_status, order.raw_status_label) == (
        "in_progress", "3002", "Ready")


def test_sync_of_garbage_status_reply_records_a_readable_error(mocked):
    order = _placed(mocked)
    mocked.add(responses.GET, status_url("2345"), body=b"{not json")
    with pytest.raises(Exception, match="not valid JSON"):
        services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    assert order.events.filter(kind="error", message__contains="not valid JSON").exists()


def test_carriers_are_cached_per_account(mocked):
    order = make_order()
    account = order.merchant.account
    mocked.add(responses.GET, CARRIERS, body=fixture("carriers.json"))
    first = carrier_choices(account_config(account))
    assert first["carriers"] == [{"id": "39", "name": "TNT", "cost": "9.8"}] and not first["error"]
    account.refresh_from_db()
    assert "carriers" not in (account.state or {})  # cached in core.account_cache, not on the row
    carrier_choices(account_config(account))  # served from the cache
    assert len(mocked.calls) == 1


def test_carrier_list_failure_keeps_the_cache_and_says_why(mocked):
    order = make_order()
    account = order.merchant.account
    mocked.add(responses.GET, CARRIERS, status=500, body="boom")
    result = carrier_choices(account_config(account), refresh=True)
    assert result["carriers"] == [] and "HTTP 500" in result["error"]
