from __future__ import annotations

import pytest
import responses

from orders import services
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
    assert order.raw_data["placement"]["order_id"] == 130  # placement data kept on sync


@pytest.mark.parametrize(("code", "state"), [
    (0, "placed"), (1, "placed"), (2, "in_progress"), (5, "placed"), (2000, "cancelled"),
    (2002, "on_hold"), (3001, "in_progress"), (3002, "in_progress"), (5003, "placed"),
    (9999, "in_progress"),
])
def test_status_codes_map_to_lifecycle_and_unknown_codes_are_data(mocked, code, state):
    order = _placed(mocked)
    mocked.add(responses.GET, status_url("2345"), json=_status(status=code))
    services.order_sync(order=order)
    order.refresh_from_db()
    assert (order.state, order.raw_status) == (state, str(code))
    if code == 9999:
        assert order.raw_status_label == "9999 (undocumented)"


def test_sync_in_xml_reads_the_xml_status(mocked):
    order = make_order(wire_format="xml")
    mocked.add(responses.POST, CREATE, body=b'<root order_id="130"/>')
    services.order_place(order=order)
    mocked.add(responses.GET, status_url("2345"), body=(
        b"<root><orders><order><order_id>130</order_id><ext_ref>2345</ext_ref>"
        b"<status>2</status></order></orders></root>"))
    services.order_sync(order=order)
    order.refresh_from_db()
    assert (order.state, order.raw_status) == ("in_progress", "2")


def test_sync_of_garbage_status_reply_records_a_readable_error(mocked):
    order = _placed(mocked)
    mocked.add(responses.GET, status_url("2345"), body=b"{not json")
    with pytest.raises(Exception, match="not valid JSON"):
        services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    assert order.events.filter(kind="error", message__contains="not valid JSON").exists()


def test_carriers_are_cached_on_the_account(mocked):
    order = make_order()
    account = order.merchant.account
    mocked.add(responses.GET, CARRIERS, body=fixture("carriers.json"))
    first = carrier_choices(account)
    assert first["carriers"] == [{"id": "39", "name": "TNT", "cost": "9.8"}] and not first["error"]
    account.refresh_from_db()
    assert account.state["carriers"]["carriers"][0]["id"] == "39"
    carrier_choices(account)  # served from the cache
    assert len(mocked.calls) == 1


def test_carrier_list_failure_keeps_the_cache_and_says_why(mocked):
    order = make_order()
    account = order.merchant.account
    mocked.add(responses.GET, CARRIERS, status=500, body="boom")
    result = carrier_choices(account, refresh=True)
    assert result["carriers"] == [] and "HTTP 500" in result["error"]
