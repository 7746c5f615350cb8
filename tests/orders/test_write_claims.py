"""Exactly one provider write per intent (issue 21, finding 10): concurrent requests on
PostgreSQL, provider calls counted at the wire."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import responses
from django.db import connection
from rest_framework.test import APIClient

from merchants.services import integration_create
from orders import services, snapshots
from orders.errors import OrderActionRefused
from orders.models import Order, Shipment
from providers.tipser import mapping
from tests.concurrency import race
from tests.factories import AccountFactory, MerchantFactory
from tests.providers.tipser.conftest import API_KEY, ORDERS_URL, wire_order

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="concurrent requests need PostgreSQL's row locks"),
]

SHIPPING = f"{ORDERS_URL}/ord00001/shipping"
STATUS = f"{ORDERS_URL}/ord00001"


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
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    # after another transactional test's flush the content types were re-created: drop the
    # cached ones, and grant the transition permission by name
    ContentType.objects.clear_cache()
    integration, key = integration_create(name="erp")
    perm, _ = Permission.objects.get_or_create(
        codename="run_order_transitions", content_type=ContentType.objects.get_for_model(Order),
        defaults={"name": "Can run order transitions"})
    integration.user.user_permissions.add(perm)

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

    responses_ = race(lambda: api_client().post(url, body, format="json"), n=8)

    # each request is answered at once (queued: 202, or refused by the check: 409); the worker
    # (eager here, right after each request's commit) pushes exactly once
    codes = sorted(r.status_code for r in responses_)  # type: ignore[attr-defined]
    assert push.call_count == 1
    assert set(codes) <= {202, 409} and 202 in codes, [r.content for r in responses_]  # type: ignore[attr-defined]
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
    first = api_client().post(url, body, format="json")
    assert first.status_code == 202, first.content  # queued; the worker (eager) pushed it
    again = api_client().post(url, body, format="json")
    assert again.status_code == 409, again.content
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

    results = race(change, n=4)
    assert put.call_count == 1
    refused = [r for r in results if isinstance(r, OrderActionRefused)]
    assert len(refused) == 3 and all(r.message for r in refused)


@pytest.mark.parametrize("verb", ["order_hold", "order_cancel"])
def test_concurrent_order_level_writes_send_one_request(mocked, tipser_order, verb):
    put = mocked.add_callback(responses.PUT, STATUS, callback=_slow())
    results = race(lambda: getattr(services, verb)(order=Order.objects.get(pk=tipser_order.pk)),
                    n=4)
    assert put.call_count == 1
    assert sum(isinstance(r, OrderActionRefused) for r in results) == 3


# --- the reseller's provider-side drafts: draft, items, checkout, custom fields ---------------
RESELLER_ORDERS = "https://bss.example.test/api/orders"


def _reseller(transactional_db, *, at_provider: bool) -> Order:
    from tests.factories import OrderFactory, OrderItemFactory
    from tests.providers.reseller.conftest import BASE, CREDENTIALS

    account = AccountFactory(provider="reseller", base_url=BASE, credentials=dict(CREDENTIALS),
                             options={"edition": "standard", "account_id": "ACC-1001"})
    merchant = MerchantFactory(account=account, external_id="ACC-1001")
    if at_provider:
        order = OrderFactory(merchant=merchant, external_id="5001", external_ids=["5001"],
                             raw_status="Draft")
        OrderItemFactory(order=order, product_id="MS365-BUS", sku="MS365-BUS", quantity=5,
                         external_id="7001")
    else:
        order = OrderFactory(merchant=merchant)
        OrderItemFactory(order=order, product_id="MS365-BUS", sku="MS365-BUS", quantity=5)
        OrderItemFactory(order=order, product_id="AZ-PLAN", sku="", quantity=1)
    return order


@pytest.fixture
def reseller_local_draft(transactional_db):
    from django.core.cache import cache

    cache.clear()
    return _reseller(transactional_db, at_provider=False)


@pytest.fixture
def reseller_draft(transactional_db):
    from django.core.cache import cache

    cache.clear()
    return _reseller(transactional_db, at_provider=True)


def _token(mocked) -> None:  # type: ignore[no-untyped-def]
    """The OAuth token, and the reads the reseller service makes around its writes: the order's
    status before checkout, an added item read back (the provider-truth rules)."""
    from tests.providers.reseller.conftest import add_token, fixture

    add_token(mocked)
    mocked.add(responses.GET, f"{RESELLER_ORDERS}/5001", json=fixture("order_draft"))
    mocked.add_callback(
        responses.GET, re.compile(rf"{RESELLER_ORDERS}/5001/items/\d+$"),
        callback=lambda r: (200, {}, json.dumps({**fixture("item"), "Id": int(r.url.rsplit("/", 1)[1])})))


def _counter():  # type: ignore[no-untyped-def]
    """A slow provider reply that hands out new ids (so duplicates would be visible)."""
    lock = threading.Lock()
    counter = iter(range(7002, 7100))

    def reply(request):  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        with lock:
            return 201, {}, f'{{"Id": {next(counter)}, "Status": "Draft"}}'
    return reply


def test_concurrent_provider_draft_creates_make_one_draft(mocked, reseller_local_draft):
    from tests.providers.reseller.conftest import fixture

    _token(mocked)
    create = mocked.add_callback(
        responses.POST, RESELLER_ORDERS,
        callback=lambda r: (time.sleep(0.3), (201, {}, json.dumps(fixture("order_draft"))))[1])
    add = mocked.add_callback(responses.POST, f"{RESELLER_ORDERS}/5001/items",
                              callback=_counter())
    results = race(lambda: services.order_provider_draft_create(
        order=Order.objects.get(pk=reseller_local_draft.pk)), n=4)
    assert create.call_count == 1 and add.call_count == 2
    assert sum(isinstance(r, OrderActionRefused) for r in results) == 3
    reseller_local_draft.refresh_from_db()
    assert reseller_local_draft.external_id == "5001"


def test_concurrent_item_pushes_send_each_item_once(mocked, reseller_draft):
    """Four adds saved here (the requests' half), four workers pushing at once: every item
    reaches the provider draft once; a push that finds another in flight is refused."""
    _token(mocked)
    add = mocked.add_callback(responses.POST, f"{RESELLER_ORDERS}/5001/items",
                              callback=_counter())
    for sku in ("A", "B", "C", "D"):
        services.order_item_add(order=reseller_draft, product_id=sku, sku=sku, quantity=1)
    assert add.call_count == 0

    results = race(lambda: services.order_provider_items_push(
        order=Order.objects.get(pk=reseller_draft.pk)), n=4)
    refused = [r for r in results if isinstance(r, OrderActionRefused)]
    assert all(r.code == "in_progress" for r in refused)
    assert sum(r for r in results if isinstance(r, int)) == 4  # each pushed by one worker
    bodies = [json.loads(c.request.body)["ProductId"] for c in mocked.calls
              if c.request.url.endswith("/items")]
    assert sorted(bodies) == ["A", "B", "C", "D"] and add.call_count == 4  # once each
    assert not reseller_draft.items.filter(external_id="").exists()


def test_concurrent_removals_of_one_item_send_one_delete(mocked, reseller_draft):
    _token(mocked)
    delete = mocked.add_callback(responses.DELETE, f"{RESELLER_ORDERS}/5001/items/7001",
                                 callback=lambda r: (time.sleep(0.3), (204, {}, ""))[1])
    item = reseller_draft.items.get()
    results = race(lambda: services.order_item_remove(item=item), n=4)
    assert delete.call_count == 1
    assert sum(isinstance(r, OrderActionRefused) for r in results) == 3
    assert not reseller_draft.items.exists()


def test_concurrent_custom_field_saves_send_once_and_a_repeat_is_not_resent(
    mocked, reseller_draft
):
    _token(mocked)
    put = mocked.add_callback(responses.PUT, f"{RESELLER_ORDERS}/5001/customfields",
                              callback=lambda r: (time.sleep(0.3), (200, {}, "[]"))[1])
    values = {"PONumber": "PO-1"}
    results = race(lambda: services.order_custom_fields_set(
        order=Order.objects.get(pk=reseller_draft.pk), values=values), n=4)
    assert put.call_count == 1
    assert sum(isinstance(r, OrderActionRefused) for r in results) == 3
    with pytest.raises(OrderActionRefused, match="already sent"):
        services.order_custom_fields_set(order=reseller_draft, values=values)
    assert put.call_count == 1


def test_concurrent_characteristics_saves_send_once(mocked, reseller_draft):
    _token(mocked)
    url = f"{RESELLER_ORDERS}/5001/items/7001/characteristics"
    put = mocked.add_callback(responses.PUT, url,
                              callback=lambda r: (time.sleep(0.3), (204, {}, ""))[1])
    item = reseller_draft.items.get()
    race(lambda: services.order_item_characteristics_set(item=item, values={"Seats": 9}), n=4)
    assert put.call_count == 1


def test_concurrent_checkouts_send_one_checkout(mocked, reseller_draft):
    from tests.providers.reseller.conftest import fixture

    _token(mocked)
    checkout = mocked.add_callback(
        responses.POST, f"{RESELLER_ORDERS}/5001/checkout",
        callback=lambda r: (time.sleep(0.3), (200, {}, '{"Id": 5001, "Status": "Submitted"}'))[1])
    mocked.add(responses.GET, f"{RESELLER_ORDERS}/5001/execute/status",
               json=fixture("execute_status_executed"))
    race(lambda: services.order_place(order=Order.objects.get(pk=reseller_draft.pk)), n=4)
    assert checkout.call_count == 1


def test_a_claim_left_by_a_dead_worker_expires_and_is_recorded(mocked, tipser_order, settings):
    import datetime as dt

    from django.utils import timezone

    from orders.models import ProviderWrite

    ProviderWrite.objects.create(order=tipser_order, operation="set_item_status",
                                 label="Item status change (hold)",
                                 started_at=timezone.now() - dt.timedelta(hours=1))
    mocked.add(responses.PUT, STATUS, json={})
    services.order_hold(order=tipser_order)
    stale = ProviderWrite.objects.get(operation="set_item_status")
    assert stale.state == "unknown" and "may have acted" in stale.reason
    assert tipser_order.events.filter(message__contains="Did not finish").exists()


def test_a_shipment_left_in_flight_by_a_dead_worker_can_be_shipped_again(mocked, tipser_order):
    import datetime as dt

    from django.utils import timezone

    from orders.models import ProviderWrite, ShipmentLine

    item = tipser_order.items.order_by("pk").first()
    ghost = Shipment.objects.create(order=tipser_order, tracking_number="JD-1")
    ShipmentLine.objects.create(shipment=ghost, item=item, quantity=item.quantity)
    ProviderWrite.objects.create(order=tipser_order, operation="push_shipment",
                                 label="Shipment JD-1",
                                 started_at=timezone.now() - dt.timedelta(hours=1))
    mocked.add(responses.POST, SHIPPING, json={})
    mocked.add(responses.PUT, STATUS, json={})
    shipment = services.order_ship(order=tipser_order, carrier="DHL", tracking_number="JD-1")
    ghost.refresh_from_db()
    assert ghost.state == "cancelled" and ghost.raw_data["outcome_unknown"] is True
    assert shipment.state == "shipped"


def test_a_local_cancel_waits_for_a_provider_draft_being_created(mocked, reseller_local_draft):
    from orders.models import ProviderWrite

    ProviderWrite.objects.create(order=reseller_local_draft, operation="create_draft",
                                 label="Creating the provider draft")
    with pytest.raises(OrderActionRefused, match="being sent to the provider") as err:
        services.order_cancel(order=reseller_local_draft)
    assert err.value.code == "in_progress"
    reseller_local_draft.refresh_from_db()
    assert reseller_local_draft.state == "draft"
