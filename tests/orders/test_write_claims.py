"""Exactly one provider write per intent (issue 21, finding 10): concurrent requests on
PostgreSQL, provider calls counted at the wire."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import responses
from django.db import connection, connections
from rest_framework.test import APIClient

from merchants.services import integration_create
from orders import services, snapshots
from orders.errors import OrderActionRefused
from orders.models import Order, Shipment
from providers.tipser import mapping
from tests.factories import AccountFactory, MerchantFactory
from tests.providers.tipser.conftest import API_KEY, ORDERS_URL, wire_order

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="concurrent requests need PostgreSQL's row locks"),
]

SHIPPING = f"{ORDERS_URL}/ord00001/shipping"
STATUS = f"{ORDERS_URL}/ord00001"


def _race(target: Callable[[], object], n: int) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _slow(status: int = 200, body: str = "{}"):  # type: ignore[no-untyped-def]
    def reply(request):  # type: ignore[no-untyped-def]
        time.sleep(0.3)  # the provider takes its time: the other requests arrive meanwhile
        return status, {}, body
    return reply


@pytest.fixture
def tipser_order(transactional_db):
    account = AccountFactory(provider="tipser", credentials={"api_key": API_KEY}, base_url="")
    MerchantFactory(account=account, external_id="shop-1")
    snapshots.upsert_page(account=account,
                          page=[mapping.parse_order(wire_order(1, status=6, items=2))])
    return Order.objects.get(external_id="ord00001")


@pytest.fixture
def api_client(transactional_db):
    _integration, key = integration_create(name="erp")

    def make() -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client
    return make


def test_eight_simultaneous_ship_requests_push_once_and_leave_no_phantom(
    mocked, tipser_order, api_client
):
    push = mocked.add_callback(responses.POST, SHIPPING, callback=_slow())
    mocked.add(responses.PUT, STATUS, json={})
    url = f"/api/v1/orders/{tipser_order.pk}/shipments/"
    body = {"carrier": "DHL", "tracking_number": "JD-8", "notify_customer": True}

    responses_ = _race(lambda: api_client().post(url, body, format="json"), n=8)

    codes = sorted(r.status_code for r in responses_)  # type: ignore[attr-defined]
    assert push.call_count == 1
    assert codes == [201] + [409] * 7
    for r in responses_:
        if r.status_code == 409:  # type: ignore[attr-defined]
            assert r.json()["error"]["message"]  # type: ignore[attr-defined]
    shipments = list(Shipment.objects.filter(order=tipser_order))
    assert [(s.state, s.tracking_number) for s in shipments] == [("shipped", "JD-8")]
    tipser_order.refresh_from_db()
    assert tipser_order.state == "shipped"


def test_a_repeated_ship_request_is_not_sent_again(mocked, tipser_order, api_client):
    push = mocked.add(responses.POST, SHIPPING, json={})
    mocked.add(responses.PUT, STATUS, json={})
    url = f"/api/v1/orders/{tipser_order.pk}/shipments/"
    item = tipser_order.items.order_by("pk").first()
    body = {"carrier": "DHL", "tracking_number": "JD-9", "items": [{"item": item.pk, "quantity": 1}]}
    assert api_client().post(url, body, format="json").status_code == 201
    again = api_client().post(url, body, format="json")
    assert again.status_code == 409
    assert "JD-9" in again.json()["error"]["message"]
    assert push.call_count == 1
    assert Shipment.objects.filter(order=tipser_order).count() == 1


def test_a_push_the_provider_refuses_leaves_a_cancelled_claim_with_its_reason(
    mocked, tipser_order
):
    mocked.add(responses.POST, SHIPPING, status=400,
               json={"error": {"id": "IncorrectInputData", "message": "Unknown provider"}})
    with pytest.raises(Exception):  # noqa: B017 - ProviderRejected
        services.order_ship(order=tipser_order, carrier="Pigeon", tracking_number="P-1")
    shipment = Shipment.objects.get(order=tipser_order)
    assert shipment.state == "cancelled" and "Unknown provider" in shipment.raw_data["push_error"]
    assert not Shipment.objects.filter(order=tipser_order, state="pending").exists()


def test_concurrent_item_status_changes_send_one_request(mocked, tipser_order):
    put = mocked.add_callback(responses.PUT, STATUS, callback=_slow())

    def change() -> object:
        order = Order.objects.get(pk=tipser_order.pk)
        return services.order_items_set_status(
            order=order, items=list(order.items.all()), transition_name="hold")

    results = _race(change, n=4)
    assert put.call_count == 1
    refused = [r for r in results if isinstance(r, OrderActionRefused)]
    assert len(refused) == 3 and all(r.message for r in refused)


@pytest.mark.parametrize("verb", ["order_hold", "order_cancel"])
def test_concurrent_order_level_writes_send_one_request(mocked, tipser_order, verb):
    put = mocked.add_callback(responses.PUT, STATUS, callback=_slow())
    results = _race(lambda: getattr(services, verb)(order=Order.objects.get(pk=tipser_order.pk)),
                    n=4)
    assert put.call_count == 1
    assert sum(isinstance(r, OrderActionRefused) for r in results) == 3
