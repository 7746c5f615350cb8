"""The Tipser sandbox (/sandbox/tipser/) through the Django test client."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from django.utils import timezone

from providers.tipser import mapping
from providers.tipser.models import SandboxMerchant, SandboxOrder, SandboxShipping
from providers.tipser.sandbox import orders_generate

pytestmark = pytest.mark.django_db
KEY = "sandbox-key-123"
BASE = "/sandbox/tipser"


@pytest.fixture
def shop():
    merchant = SandboxMerchant.objects.create(api_key=KEY, name="shop")
    orders_generate(merchant=merchant, count=5, rng=random.Random(1), items=2)
    return merchant


def _list(client, **params):
    query = {
        "apiKey": KEY,
        "from": (timezone.now() - dt.timedelta(days=1)).date().isoformat(),
        "states": "0,1,2,3,4,6",
        **params,
    }
    return client.get(f"{BASE}/v3/merchants/orders", query)


def _first(shop) -> SandboxOrder:
    return shop.orders.order_by("order_date", "id").first()


def _put(client, order_id, body, key=KEY):
    return client.put(
        f"{BASE}/v3/merchants/orders/{order_id}?apiKey={key}",
        json.dumps(body),
        content_type="application/json",
    )


def test_every_endpoint_needs_a_valid_apikey(client, shop):
    order = _first(shop)
    for response in (
        client.get(f"{BASE}/v3/merchants/orders", {"from": "2020-01-01", "states": "0"}),
        client.get(f"{BASE}/v3/merchants/orders/{order.order_id}", {"apiKey": "wrong"}),
        _put(client, order.order_id, {"status": 6, "orderItemsIds": ["x"]}, key="wrong"),
        client.get(f"{BASE}/v3/markets"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["id"] == "Unauthorized"


def test_list_pages_through_orders_with_total_count(client, shop):
    pages = [_list(client, pageSize=2, pageIndex=i).json() for i in range(3)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert {p["itemsCount"] for p in pages} == {5}
    assert [p["pageIndex"] for p in pages] == [0, 1, 2]
    ids = [o["id"] for p in pages for o in p["items"]]
    assert len(set(ids)) == 5
    # every page parses with our mapping, items New with nextStatuses from the table
    orders, count = mapping.parse_order_page(pages[0])
    assert count == 5 and orders[0].items[0].next_statuses == ["1", "2", "3", "6"]


def test_list_requires_from_and_states_and_filters_by_them(client, shop):
    assert _list(client, **{"from": ""}).status_code == 400
    assert _list(client, states="").json()["error"]["id"] == "IncorrectInputData"
    assert _list(client, states="2").json()["itemsCount"] == 0
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    assert _list(client, **{"from": tomorrow}).json()["itemsCount"] == 0


def test_put_allowed_status_changes_items_and_next_statuses(client, shop):
    order = _first(shop)
    ids = [i["id"] for i in order.data["items"]]
    response = _put(
        client, order.order_id, {"status": 6, "orderItemsIds": ids[:1], "comment": "ok"}
    )
    assert response.status_code == 200
    detail = client.get(f"{BASE}/v3/merchants/orders/{order.order_id}", {"apiKey": KEY}).json()
    assert [(i["status"], i["nextStatuses"]) for i in detail["items"]] == [
        (6, [1, 2, 3]),
        (0, [1, 2, 3, 6]),
    ]
    assert detail["activityLogs"][0]["text"]["newState"] == "Acknowledged"


def test_states_filter_follows_item_status_changes_and_pages_in_sql(client, shop):
    """An order matches ``states`` when any of its items is in one: the codes kept in
    ``item_statuses`` by every write (bulk_create of new orders, the status PUT)."""
    assert set(shop.orders.values_list("item_statuses", flat=True)) == {",0,"}
    first, second = list(shop.orders.order_by("order_date", "id"))[:2]
    for order in (first, second):
        _put(client, order.order_id, {"status": 6, "orderItemsIds": [order.data["items"][0]["id"]]})
    assert SandboxOrder.objects.get(pk=first.pk).item_statuses == ",0,6,"
    acknowledged = [_list(client, states="6", pageSize=1, pageIndex=i).json() for i in range(2)]
    assert [p["itemsCount"] for p in acknowledged] == [2, 2]
    assert [p["items"][0]["id"] for p in acknowledged] == [first.order_id, second.order_id]
    assert _list(client, states="0").json()["itemsCount"] == 5  # their other item is still New
    assert _list(client, states="2,4").json()["itemsCount"] == 0


def test_put_outside_next_statuses_is_refused_with_tipser_error_body(client, shop):
    order = _first(shop)
    ids = [i["id"] for i in order.data["items"]]
    response = _put(client, order.order_id, {"status": 4, "orderItemsIds": ids, "comment": ""})
    assert response.status_code == 400
    body = response.json()
    assert (
        body["error"]["id"] == "IncorrectInputData" and "nextStatuses" in body["error"]["message"]
    )
    order.refresh_from_db()
    assert {i["status"] for i in order.data["items"]} == {0}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"status": "1", "orderItemsIds": ["x"]},
        {"status": 1, "orderItemsIds": []},
        {"status": 9, "orderItemsIds": ["x"]},
        {"status": 1, "orderItemsIds": ["not-an-item"]},
    ],
)
def test_put_with_bad_body_is_a_400(client, shop, body):
    assert _put(client, _first(shop).order_id, body).status_code == 400


def test_shipping_is_recorded(client, shop):
    order = _first(shop)
    ids = [i["id"] for i in order.data["items"]]
    body = {
        "shippingProvider": None,
        "comment": "",
        "sendDeliveryNoteToCustomer": True,
        "trackingNumber": "T-9",
        "orderItemsIds": ids,
    }
    response = client.post(
        f"{BASE}/v3/merchants/orders/{order.order_id}/shipping?apiKey={KEY}",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert SandboxShipping.objects.get(order=order).body == body
    missing = client.post(
        f"{BASE}/v3/merchants/orders/{order.order_id}/shipping?apiKey={KEY}",
        json.dumps({**body, "trackingNumber": ""}),
        content_type="application/json",
    )
    assert missing.status_code == 400


def test_markets_list_carriers(client, shop):
    body = client.get(f"{BASE}/v3/markets", {"apiKey": KEY}).json()
    assert "PostNord" in mapping.parse_carriers(body)


def test_unknown_order_is_a_404(client, shop):
    assert client.get(f"{BASE}/v3/merchants/orders/nope", {"apiKey": KEY}).status_code == 404


def test_control_endpoint_generates_incoming_orders(client, shop):
    response = client.post(f"{BASE}/control/orders?apiKey={KEY}&count=2")
    assert response.status_code == 201 and len(response.json()["created"]) == 2
    assert _list(client).json()["itemsCount"] == 7
    assert client.post(f"{BASE}/control/orders").status_code == 403


def test_access_log_of_sandbox_requests_hides_the_apikey(caplog):
    import logging

    from django.conf import settings

    from providers.http import RedactingFilter

    assert "django.server" in settings.LOGGING["loggers"]
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        (f"GET {BASE}/v3/markets?apiKey={KEY} HTTP/1.1", "200", "10"),
        None,
    )
    RedactingFilter().filter(record)
    assert KEY not in record.getMessage() and "apiKey=***" in record.getMessage()


def test_control_page_form_creates_orders(client, shop):
    assert b"apiKey" in client.get(f"{BASE}/control/").content
    response = client.post(f"{BASE}/control/orders", {"apiKey": KEY, "count": "1"})
    assert response.status_code == 201
    assert shop.orders.count() == 6
