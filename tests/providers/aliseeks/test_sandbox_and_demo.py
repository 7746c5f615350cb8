"""The Aliseeks sandbox (fake server) and the demo seed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import override_settings
from django.utils import timezone

from merchants.models import Merchant, ProviderAccount
from orders.demo import demo_seed
from orders.models import Order
from orders.provider_requests import order_request
from providers.aliseeks import demo
from providers.aliseeks.models import SandboxMerchant, SandboxOrder

from .fault_spec import fixture

pytestmark = pytest.mark.django_db
HEADERS = {"X-Api-Client-Id": "k"}


def _create(client, body, headers=HEADERS):
    return client.post("/sandbox/aliseeks/v1/orders", data=json.dumps(body),
                       content_type="application/json", headers=headers)


def test_sandbox_refuses_calls_without_the_api_key_header(client):
    reply = client.get("/sandbox/aliseeks/v1/orders?merchantId=a&orderId=1")
    assert reply.status_code == 403
    assert reply.json()[0]["code"] == "Forbidden"


def test_sandbox_creates_the_docs_sample_and_returns_numeric_ids(client):
    SandboxMerchant.objects.create(merchant_id="YOUR_MERCANT_ID", authorized=True)
    reply = _create(client, fixture("create_order_request.json"))
    assert reply.status_code == 200
    body = reply.json()
    assert body["merchantId"] == "YOUR_MERCANT_ID"
    assert all(isinstance(i, int) for i in body["orderIds"]) and len(body["orderIds"]) == 1


def test_sandbox_validates_like_the_provider(client):
    SandboxMerchant.objects.create(merchant_id="m", authorized=True)
    body = fixture("create_order_request.json")
    body["merchantId"] = "m"
    body["items"][0]["quantity"] = 0
    del body["mailingAddress"]["contactName"]
    reply = _create(client, body)
    assert reply.status_code == 422
    fields = {e["field"] for e in reply.json()}
    assert fields == {"mailingAddress.contactName", "items[0].quantity"}


def test_sandbox_refuses_orders_for_a_merchant_that_has_not_authorized(client):
    SandboxMerchant.objects.create(merchant_id="m", authorized=False)
    body = {**fixture("create_order_request.json"), "merchantId": "m"}
    reply = _create(client, body)
    assert reply.status_code == 422 and reply.json()[0]["field"] == "merchantId"


@override_settings(ALISEEKS_SANDBOX_STEP_SECONDS=60)
def test_sandbox_orders_move_on_with_time_and_gain_tracking(client):
    SandboxMerchant.objects.create(merchant_id="m", authorized=True)
    order = SandboxOrder.objects.create(order_id="123456789012345", merchant_id="m",
                                        items=[{"productId": 1, "quantity": 1,
                                                "shippingService": "YANWEN_JYT"}])
    url = "/sandbox/aliseeks/v1/orders?merchantId=m&orderId=123456789012345"
    first = client.get(url, headers=HEADERS).json()
    assert first["status"] == "place_order_success" and first["shipping"] == []
    SandboxOrder.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=125))
    later = client.get(url, headers=HEADERS).json()
    assert later["status"] == "wait_buyer_accept_goods" and later["shippingStatus"] == "shipped"
    assert later["shipping"][0]["shippingService"] == "YANWEN_JYT"
    assert set(later) >= {"id", "created", "total", "status", "shippingStatus", "store",
                          "shipping", "items"}


def test_sandbox_unknown_order_is_404_naming_order_id(client):
    SandboxMerchant.objects.create(merchant_id="m", authorized=True)
    reply = client.get("/sandbox/aliseeks/v1/orders?merchantId=m&orderId=0", headers=HEADERS)
    assert reply.status_code == 404 and reply.json()[0]["field"] == "orderId"


def test_sandbox_control_page_lists_orders_and_advances_them(client):
    order = SandboxOrder.objects.create(order_id="42", merchant_id="m", items=[])
    assert b"42" in client.get("/sandbox/aliseeks/").content
    client.post("/sandbox/aliseeks/control/orders/42/advance/")
    order.refresh_from_db()
    assert order.manual_steps == 1


def test_sandbox_authorization_page_is_single_use(client):
    SandboxMerchant.objects.create(merchant_id="m", redirect_url="http://testserver/back/",
                                   authorize_token="tok")
    assert client.get("/sandbox/aliseeks/authorize/tok/").status_code == 200
    assert client.post("/sandbox/aliseeks/authorize/tok/", {"decision": "allow"})[
        "Location"] == "http://testserver/back/"
    assert client.get("/sandbox/aliseeks/authorize/tok/").status_code == 410


def test_demo_seed_creates_an_authorized_and_a_pending_merchant_with_drafts(db):
    account = ProviderAccount.objects.create(
        provider="aliseeks", name="Aliseeks demo", base_url="http://127.0.0.1:8000/sandbox/aliseeks/",
        credentials=demo.CREDENTIALS, options=demo.OPTIONS)
    demo_seed(account=account)
    shop = Merchant.objects.get(account=account, external_id=demo.DEMO_MERCHANT_ID)
    assert shop.can_order
    pending = Merchant.objects.get(account=account, name="Aliseeks pending shop")
    assert pending.auth_state == "pending"
    assert Order.objects.filter(merchant=shop, state="draft").count() == 3
    assert SandboxMerchant.objects.get(merchant_id=demo.DEMO_MERCHANT_ID).authorized
    from merchants.provider_requests import provider_service as service_for

    for order in Order.objects.filter(merchant=shop):
        assert service_for(account).validate_for_placement(order_request(order)) == {}
