"""The sandbox speaks the documented wire format, and our client works against it."""

from __future__ import annotations

import base64
import json

import pytest

from merchants.models import ProviderAccount
from orders import services
from providers.brandsdistribution import mapping
from providers.brandsdistribution.models import SandboxOrder, SandboxStock
from providers.http import session_for
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

from .helpers import fixture

pytestmark = pytest.mark.django_db
PREFIX = "/sandbox/brandsdistribution/"
AUTH = "Basic " + base64.b64encode(b"demo-bd-json:demo-bd-password").decode()


def _post(client, path, body, fmt="json", auth=AUTH):
    ctype = mapping.CONTENT_TYPES[fmt]
    return client.post(PREFIX + path, data=body, content_type=ctype,
                       HTTP_ACCEPT=ctype, HTTP_AUTHORIZATION=auth)


def _get(client, path, fmt="json"):
    return client.get(PREFIX + path, HTTP_ACCEPT=mapping.CONTENT_TYPES[fmt],
                      HTTP_AUTHORIZATION=AUTH)


def _order_json(key="K1", items=(("1578", "1"),), notes=""):
    doc = json.loads(fixture("order_request.json"))
    doc["order_list"][0]["key"] = key
    doc["order_list"][0]["item_list"] = [{"stock_id": s, "quantity": q} for s, q in items]
    if notes:
        doc["order_list"][0]["recipient_details"]["notes"] = notes
    return json.dumps(doc)


def test_sandbox_requires_basic_auth(client):
    response = _post(client, "restful/ghost/orders/0/dropshipping", _order_json(),
                     auth="Basic " + base64.b64encode(b"demo-bd-json:wrong").decode())
    assert response.status_code == 401


def test_sandbox_accepts_the_documented_json_and_xml_samples(client):
    response = _post(client, "restful/ghost/orders/0/dropshipping", _order_json())
    assert response.status_code == 200
    body = response.json()
    # as the doc's JSON sample: order_id 0, and the models *remaining* in the reservation
    assert body == {"models": [], "order_id": 0}
    response = _post(client, "restful/ghost/orders/0/dropshipping",
                     fixture("order_request.xml"), fmt="xml")
    assert response.status_code == 200, response.content
    reply = mapping.parse_models_reply(response.content, "xml", what="t")
    assert reply["order_id"] and reply["models"] == {}
    # 148367 has only 3 in stock: silently reduced (the reply does not say so)
    assert SandboxOrder.objects.get(ext_ref="2345").models_taken == {"148148": 10, "148367": 3}


def test_sandbox_reserve_speaks_the_documented_xml(client):
    body = (b'<root><operation type="lock"><model stock_id="148148" quantity="3"/></operation>'
            b'<operation type="unlock"><model stock_id="148148" quantity="1"/></operation></root>')
    response = _post(client, "restful/ghost/orders/sold/", body, fmt="xml")
    assert response.status_code == 200, response.content
    reply = mapping.parse_models_reply(response.content, "xml", what="t")
    assert reply["models"]["148148"]["locked"] == 2
    old_shape = (b"<root><operations><operation><type>lock</type><models><model><stock_id>1"
                 b"</stock_id><quantity>1</quantity></model></models></operation></operations>"
                 b"</root>")
    assert _post(client, "restful/ghost/orders/sold/", old_shape, fmt="xml").status_code == 429


def test_sandbox_unknown_stock_id_is_429_with_a_message(client):
    response = _post(client, "restful/ghost/orders/0/dropshipping",
                     _order_json(items=(("424242", "1"),)))
    assert response.status_code == 429
    assert b"stock_id 424242 does not exist" in response.content
    assert not SandboxOrder.objects.exists()


def test_sandbox_bad_date_is_refused(client):
    doc = json.loads(_order_json())
    doc["order_list"][0]["date"] = "2021-02-02T23:59:59Z"
    response = _post(client, "restful/ghost/orders/0/dropshipping", json.dumps(doc))
    assert response.status_code == 429 and b"Invalid date" in response.content


def test_sandbox_xml_bomb_request_is_refused(client):
    from .test_mapping import BOMB

    response = _post(client, "restful/ghost/orders/0/dropshipping", BOMB, fmt="xml")
    assert response.status_code == 429 and b"Malformed XML" in response.content


def test_sandbox_reservation_lock_unlock_and_status(client):
    body = json.dumps(mapping.reserve_document("lock", {"148367": 5}))
    assert _post(client, "restful/ghost/orders/sold/", body).status_code == 200
    held = _get(client, "restful/ghost/orders/dropshipping/locked/").json()
    assert held["models"] == [{"stock_id": 148367, "locked": 3, "available": 0}]
    body = json.dumps(mapping.reserve_document("unlock", {"148367": 3}))
    _post(client, "restful/ghost/orders/sold/", body)
    assert _get(client, "restful/ghost/orders/dropshipping/locked/").json()["models"] == []
    assert SandboxStock.objects.get(stock_id=148367).available == 3


def test_sandbox_orders_advance_to_dispatched_with_tracking(client):
    _post(client, "restful/ghost/orders/0/dropshipping", _order_json(key="K9"))
    status = _get(client, "restful/ghost/clientorders/clientkey/K9").json()["orders"][0]
    assert status["status"] == 2 and status["tracking_code"] is None
    _post(client, "control/advance/K9?to=dispatched", "")
    status = _get(client, "restful/ghost/clientorders/clientkey/K9").json()["orders"][0]
    assert status["status"] == 3 and status["tracking_code"] and status["carrier_name"]
    assert _get(client, "restful/ghost/clientorders/clientkey/NOPE").status_code == 404


def test_sandbox_carriers_in_both_formats(client):
    first = _get(client, "restful/export/carriers").json()[0]
    assert first == {"cost": 9.8, "name": "TNT", "id": 39}
    carriers = mapping.parse_carriers(_get(client, "restful/export/carriers", "xml").content,
                                      "xml", what="t")
    assert carriers[0]["id"] == "39"


# --- our service against the sandbox, over loopback ------------------------------------------
@pytest.fixture
def live_server(live_server):
    yield live_server
    # close the kept-alive connection so no server thread outlives the test database
    session_for((live_server.url + PREFIX).rstrip("/") + "/").close()


def _live_order(live_server, fmt, items, reserve_first=True):
    account = ProviderAccount.objects.create(
        provider="brandsdistribution", name=f"live {fmt}",
        base_url=live_server.url + PREFIX,
        credentials={"api_key": f"demo-bd-{fmt}", "password": "demo-bd-password"},
        options={"wire_format": fmt, "reserve_first": reserve_first},
    )
    order = OrderFactory(merchant=MerchantFactory(account=account), address_line1="Via Roma 1",
                         country="IT")
    for sku, qty in items:
        OrderItemFactory(order=order, sku=sku, quantity=qty)
    return order


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_place_sync_against_the_sandbox(live_server, fmt):
    from providers.brandsdistribution.models import SandboxLock

    order = _live_order(live_server, fmt, [("148148", 2)])
    # a leftover of an earlier aborted create, of the same model, stays reserved
    SandboxStock.objects.get_or_create(stock_id=148148, defaults={"name": "x", "available": 25})
    SandboxLock.objects.create(api_key=f"demo-bd-{fmt}", stock_id=148148, locked=3)
    services.order_place(order=order)
    order.refresh_from_db()
    # auto-confirmed: the status by key already says "to dispatch"
    assert (order.state, order.raw_status) == ("in_progress", "2"), order.failure_reason
    sandbox_order = SandboxOrder.objects.get(ext_ref=order.reference)
    assert order.external_id == str(sandbox_order.order_id) != "0"
    item = order.items.get()
    assert (item.confirmed_quantity, item.shortfall) == (2, 0)  # in full, never shown short
    assert not order.has_open_shortfall
    # nothing of ours is left reserved: only the leftover
    assert list(SandboxLock.objects.filter(locked__gt=0).values_list("locked", flat=True)) == [3]
    SandboxOrder.objects.filter(ext_ref=order.reference).update(status=3)
    services.order_sync(order=order)
    order.refresh_from_db()
    assert (order.state, order.raw_status) == ("shipped", "3")


def test_reservation_shortfall_against_the_sandbox(live_server):
    order = _live_order(live_server, "xml", [("148148", 1), ("148367", 5)])
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "stock 148367: requested 5, locked 3" in order.failure_reason
    assert SandboxStock.objects.get(stock_id=148367).available == 3  # locks released
    assert not SandboxOrder.objects.exists()


def test_sandbox_fault_words_give_a_rate_limit_or_an_unreadable_reply(client):
    response = _post(client, "restful/ghost/orders/0/dropshipping",
                     _order_json(key="R1", notes="sandbox:rate-limit"))
    assert response.status_code == 429 and response["Retry-After"] == "60"
    response = _post(client, "restful/ghost/orders/0/dropshipping",
                     _order_json(key="G1", notes="sandbox:garbage"))
    assert response.status_code == 200 and response.content == b'{"models": ['
    assert SandboxOrder.objects.filter(ext_ref="G1").exists()  # created all the same
