"""The sandbox speaks the wire format our client reads: the whole operator story (draft, two
items, remove one, checkout, execution completes) through the real client, the Draft-only
rules, Free-edition refusals, token expiry and draft expiry by a moved clock.

The client's HTTP goes through ``responses`` to Django's test client (a wire bridge): method,
path, query, headers and body reach the sandbox views as sent.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import responses
from django.test import Client

from merchants.models import ProviderAccount
from merchants.provider_requests import provider_service
from orders import dispatch, services, tasks
from orders.errors import OrderActionRefused
from orders.models import OrderEvent
from orders.provider_requests import item_request, order_request
from providers.errors import ProviderRejected
from providers.reseller import demo
from providers.reseller.models import SandboxClock, SandboxOrder
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db
HOST = "http://sandbox.test"
BASE = f"{HOST}/sandbox/reseller/"


def bridge(rsps: responses.RequestsMock) -> None:
    client = Client()

    def forward(request):
        parts = urlsplit(request.url)
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.headers.items()
                   if k.lower() not in ("content-type", "content-length")}
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        response = client.generic(
            request.method, parts.path + (f"?{parts.query}" if parts.query else ""),
            data=body, content_type=request.headers.get("Content-Type", ""), **headers,
        )
        return response.status_code, dict(response.headers), response.content

    for method in ("GET", "POST", "PUT", "DELETE"):
        rsps.add_callback(method, re.compile(re.escape(HOST) + ".*"), callback=forward)


@pytest.fixture
def sandbox(mocked):
    bridge(mocked)
    SandboxClock.reset()
    return mocked


def _account(edition: str = "standard", username: str = "demo") -> ProviderAccount:
    creds = dict(demo.CREDENTIALS)
    if username == "free":
        creds.update(username="free", password="free-password")
    return AccountFactory(provider="reseller", base_url=BASE, credentials=creds,
                          options={**demo.OPTIONS, "edition": edition})


def test_operator_story_draft_two_items_remove_one_checkout_completes(
        sandbox, django_capture_on_commit_callbacks):
    merchant = MerchantFactory(account=_account())
    order = OrderFactory(merchant=merchant)
    order = services.order_provider_draft_create(order=order)
    assert order.external_id and order.raw_status == "Draft"
    assert order.expires_at is not None
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:  # the operator's requests
        a = dispatch.order_item_add_enqueue(order=order, product_id="MS365-BUS", name="M365",
                                            quantity=5).result
        b = dispatch.order_item_add_enqueue(order=order, product_id="AZ-PLAN", name="Azure",
                                            quantity=1).result
    assert len(sandbox.calls) == calls  # nothing sent inside the requests
    for task in worker:  # the worker
        task()
    with django_capture_on_commit_callbacks() as worker:
        assert dispatch.order_item_remove_enqueue(item=a).queued
    assert order.items.filter(pk=a.pk).exists()
    for task in worker:
        task()
    remote = SandboxOrder.objects.get(pk=int(order.external_id))
    assert list(remote.items.values_list("product_id", flat=True)) == ["AZ-PLAN"]
    b.refresh_from_db()
    assert b.external_id == str(remote.items.get().pk)
    assert list(order.items.all()) == [b]

    tasks.order_place_task.delay(order.pk)  # checkout; the (eager) poll task runs to the end
    order.refresh_from_db()
    assert order.state == "completed" and order.raw_status == "Executed"
    polls = order.events.filter(kind=OrderEvent.Kind.PROVIDER_CALL, operation="execution_status")
    assert polls.count() == 3

    # reads: detail + items map back; after checkout the items are frozen at the provider
    snap = provider_service(merchant.account).fetch_order(order_request(order))
    assert snap.raw_status == "Executed" and [i.product_id for i in snap.items] == ["AZ-PLAN"]
    with pytest.raises(OrderActionRefused):
        services.order_item_add(order=order, product_id="X", quantity=1)


def test_sandbox_enforces_draft_only_rules_like_the_provider(sandbox):
    merchant = MerchantFactory(account=_account())
    order = OrderFactory(merchant=merchant)
    OrderItemFactory(order=order, product_id="P1", quantity=1)
    tasks.order_place_task.delay(order.pk)  # the worker: places, then polls the execution
    order.refresh_from_db()
    svc = provider_service(merchant.account)
    item = order.items.get()
    with pytest.raises(ProviderRejected, match="not in Draft status"):
        svc.add_item(order_request(order), item_request(item))
    with pytest.raises(ProviderRejected, match="not in Draft status"):
        svc.remove_item(order_request(order), item_request(item))
    # checkout again: we read the provider's status first and never send it
    checkouts = SandboxOrder.objects.get(pk=int(order.external_id)).status
    result = svc.place_order(order_request(order))
    assert "Not checked out" in result.message and result.raw_status != "Draft"
    assert SandboxOrder.objects.get(pk=int(order.external_id)).status == checkouts


def test_sandbox_requires_bearer_api_version_and_account_id(sandbox):
    import base64

    client = Client()
    basic = "Basic " + base64.b64encode(b"demo-client:demo-client-secret").decode()
    token = client.post("/sandbox/reseller/oauth/token",
                        {"grant_type": "password", "username": "demo",
                         "password": "demo-password"},
                        HTTP_AUTHORIZATION=basic).json()["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/sandbox/reseller/api/orders", **bearer).status_code == 400  # no version
    v3 = {**bearer, "HTTP_X_API_VERSION": "3.0"}
    assert client.get("/sandbox/reseller/api/orders", HTTP_X_API_VERSION="3.0").status_code == 401
    reply = client.post("/sandbox/reseller/api/orders", {"ExternalReference": "x"},
                        content_type="application/json", **v3)
    assert reply.status_code == 400 and "AccountId" in reply.json()["errors"]


def test_sandbox_free_user_reads_but_cannot_write(sandbox):
    standard = provider_service(_account())
    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    created = standard.create_draft(order_request(order))
    order.external_id = created.external_ids[0]
    free_account = _account(edition="standard", username="free")  # mislabelled edition
    free = provider_service(free_account)
    assert free.fetch_order(order_request(order)).raw_status == "Draft"
    assert [f["name"] for f in free.custom_fields_get(order_request(order))] == ["PONumber", "DeliveryNotes"]
    with pytest.raises(ProviderRejected, match="Free"):
        free.add_item(order, OrderItemFactory(order=order, product_id="P"))


def test_sandbox_stages_custom_fields_and_characteristics(sandbox):
    merchant = MerchantFactory(account=_account())
    order = OrderFactory(merchant=merchant)
    OrderItemFactory(order=order, product_id="P1")
    services.order_provider_draft_create(order=order)
    order.refresh_from_db()
    other = OrderFactory(merchant=merchant)
    OrderItemFactory(order=other, product_id="P2")
    tasks.order_place_task.delay(other.pk)  # the worker: places, then polls the execution
    other.refresh_from_db()
    svc = provider_service(merchant.account)
    drafts = svc.list_orders(stage="Draft")
    confirmed = svc.list_orders(stage="Confirmed")
    every = svc.list_orders(stage="All")
    assert [s.external_id for s in drafts] == [order.external_id]
    assert [s.external_id for s in confirmed] == [other.external_id]
    assert len(every) == 2

    services.order_custom_fields_set(order=order, values={"PONumber": "PO-42"})
    fields = {f["name"]: f["value"] for f in services.order_custom_fields_get(order=order)}
    assert fields["PONumber"] == "PO-42"
    item = order.items.get()
    services.order_item_characteristics_set(item=item, values={"Seats": "12"})
    values = {v["name"]: v["value"] for v in services.order_item_characteristics_get(item=item)}
    assert values["Seats"] == "12"
    assert svc.fetch_item(order_request(order), item_request(item)).product_id == "P1"
    with pytest.raises(ProviderRejected, match="Unknown field"):
        services.order_custom_fields_set(order=order, values={"Bogus": "1"})


def test_sandbox_drafts_expire_after_7_days_and_our_sweep_follows(sandbox):
    merchant = MerchantFactory(account=_account())
    order = OrderFactory(merchant=merchant)
    order = services.order_provider_draft_create(order=order)
    assert SandboxOrder.objects.count() == 1
    SandboxClock.advance(dt.timedelta(days=7, minutes=1))
    svc = provider_service(merchant.account)
    drafts = svc.list_orders(stage="Draft")  # the old token expired too: refreshed on 401
    assert drafts == []
    assert SandboxOrder.objects.count() == 0
    assert services.order_drafts_expire(now=order.expires_at + dt.timedelta(seconds=1)) == 1
    order.refresh_from_db()
    assert order.state == "expired"


def test_sandbox_token_endpoint_rejects_client_secret_in_body(sandbox):
    response = Client().post("/sandbox/reseller/oauth/token", {
        "grant_type": "password", "username": "demo", "password": "demo-password",
        "client_id": "demo-client", "client_secret": "demo-client-secret"})
    assert response.status_code == 401  # no Basic header at all
