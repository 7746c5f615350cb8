"""The outbox and one delivery at the wire: events are written with the change, sent signed
after commit, retried on 5xx/429/network errors with backoff, given up with the subscription
flagged, never sent through a redirect."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import responses
from django.db import transaction
from django.utils import timezone

from orders import services as order_services
from orders.models import Shipment
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from webhooks import signing
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from webhooks.services import webhook_attempts_purge, webhook_delivery_send, webhook_subscription_create
from webhooks.tasks import webhook_deliveries_due_task

from .conftest import RECEIVER

pytestmark = pytest.mark.django_db


def _cancel(order, capture):
    with capture(execute=True):
        order_services.order_cancel(order=order, reason="customer changed their mind")


def _bodies(rsps):
    return [json.loads(call.request.body) for call in rsps.calls if call.request.url == RECEIVER]


def test_nothing_is_written_when_nobody_subscribes(order, django_capture_on_commit_callbacks):
    _cancel(order, django_capture_on_commit_callbacks)
    assert WebhookEvent.objects.count() == 0


def test_a_state_change_is_sent_signed_after_commit_with_the_api_representation(
    order, subscription, mocked, django_capture_on_commit_callbacks
):
    mocked.post(RECEIVER, status=200, body="ok")
    _cancel(order, django_capture_on_commit_callbacks)

    assert [b["type"] for b in _bodies(mocked)] == ["order.state_changed"]
    call = next(c for c in mocked.calls if c.request.headers["Dropdesk-Event-Type"] == "order.state_changed")
    body = call.request.body
    assert signing.signature_verify(subscription.plain_secret, call.request.headers["Dropdesk-Signature"], body)
    payload = json.loads(body)
    event = WebhookEvent.objects.get(type="order.state_changed")
    assert payload["id"] == str(event.pk) == call.request.headers["Dropdesk-Event-Id"]
    assert payload["type"] == "order.state_changed" and payload["version"]
    assert payload["data"]["from"] == "draft" and payload["data"]["to"] == "cancelled"
    assert payload["data"]["reason"] == "customer changed their mind"
    assert payload["data"]["object"]["reference"] == order.reference
    assert payload["data"]["object"]["state"] == "cancelled"
    assert {i["sku"] for i in payload["data"]["object"]["items"]} == {"SKU-A", "SKU-B"}
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.state == "delivered" and delivery.attempts == 1
    assert WebhookAttempt.objects.get(delivery=delivery).http_status == 200


def test_a_rolled_back_change_sends_nothing(bare_order, subscription, mocked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        order_services.order_cancel(order=bare_order, reason="x")
        raise RuntimeError("rolled back")
    assert WebhookEvent.objects.count() == 0 and not mocked.calls


def test_created_orders_items_shipments_and_merchant_authorizations_are_events(
    merchant, subscription, mocked, django_capture_on_commit_callbacks
):
    mocked.post(RECEIVER, status=204)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_services.order_create(
            merchant=merchant, items=[{"sku": "S1", "quantity": 1, "unit_price": "3.00"}],
            contact_name="A", address_line1="B", city="C", country="SE", currency="EUR",
        )
    with django_capture_on_commit_callbacks(execute=True):
        merchant.revoke()
        merchant.save()
    types = [b["type"] for b in _bodies(mocked)]
    assert types == ["order.created", "merchant.authorization_changed"]
    created = _bodies(mocked)[0]["data"]["object"]
    assert created["id"] == order.pk and [i["sku"] for i in created["items"]] == ["S1"]


def test_placement_failure_and_unknown_outcome_have_their_own_events(
    bare_order, subscription, mocked, django_capture_on_commit_callbacks
):
    mocked.post(RECEIVER, status=200)
    with django_capture_on_commit_callbacks(execute=True):
        bare_order.place()
        bare_order.save()
        bare_order.placement_outcome_unknown(reason="read timeout after the request was sent")
        bare_order.save()
    types = [b["type"] for b in _bodies(mocked)]
    assert types == ["order.state_changed", "order.state_changed", "order.placement_unknown"]
    assert _bodies(mocked)[2]["data"]["reason"] == "read timeout after the request was sent"


def test_an_integration_scoped_to_a_merchant_gets_only_that_merchants_events(
    merchant, mocked, django_capture_on_commit_callbacks
):
    from merchants.services import integration_create

    scoped, _ = integration_create(name="shop-a", merchants=[merchant])
    webhook_subscription_create(integration=scoped, url=RECEIVER)
    mine = OrderFactory(merchant=merchant)
    theirs = OrderFactory(merchant=MerchantFactory())
    mocked.post(RECEIVER, status=200)
    _cancel(theirs, django_capture_on_commit_callbacks)
    _cancel(mine, django_capture_on_commit_callbacks)
    assert [b["data"]["object"]["id"] for b in _bodies(mocked)] == [mine.pk]


def test_event_types_filter_what_a_subscription_gets(bare_order, hook_integration, mocked,
                                                      django_capture_on_commit_callbacks):
    webhook_subscription_create(integration=hook_integration, url=RECEIVER, event_types=["order.created"])
    _cancel(bare_order, django_capture_on_commit_callbacks)
    assert WebhookEvent.objects.count() == 0 and not mocked.calls


def _due_now():
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())


def test_a_500_then_200_is_delivered_once_after_a_retry_with_the_same_id_and_body(
    bare_order, subscription, mocked, django_capture_on_commit_callbacks
):
    mocked.post(RECEIVER, status=500, body="boom")
    mocked.post(RECEIVER, status=200, body="ok")
    before = timezone.now()
    _cancel(bare_order, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and delivery.last_status == 500
    assert delivery.next_attempt_at >= before + dt.timedelta(seconds=7)  # backoff, not at once
    assert webhook_deliveries_due_task() == 0  # not due yet
    _due_now()
    assert webhook_deliveries_due_task() == 1
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 2
    assert mocked.calls[0].request.body == mocked.calls[1].request.body
    assert webhook_deliveries_due_task() == 0 and len(mocked.calls) == 2
    assert list(WebhookAttempt.objects.order_by("started_at", "pk").values_list("outcome", "http_status")) == [
        ("retry", 500), ("delivered", 200)]


def test_429_honours_retry_after(bare_order, subscription, mocked, django_capture_on_commit_callbacks):
    mocked.post(RECEIVER, status=429, headers={"Retry-After": "600"})
    _cancel(bare_order, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending"
    assert delivery.next_attempt_at >= timezone.now() + dt.timedelta(seconds=590)


def test_network_errors_retry_until_the_give_up_window_then_flag_the_subscription(
    bare_order, subscription, mocked, settings, django_capture_on_commit_callbacks
):
    mocked.post(RECEIVER, body=requests.ConnectionError("connection refused"))
    _cancel(bare_order, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and "ConnectionError" in delivery.last_error
    WebhookDelivery.objects.update(created_at=timezone.now() - dt.timedelta(seconds=settings.WEBHOOK_GIVE_UP_AFTER))
    _due_now()
    webhook_deliveries_due_task()
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.last_error.startswith("Gave up after 2 attempt(s)")
    subscription.refresh_from_db()
    assert subscription.failing_since is not None and "Gave up" in subscription.last_failure

    # the next successful delivery clears the flag
    mocked.replace(responses.POST, RECEIVER, status=200)
    from webhooks.services import webhook_failed_redeliver

    ids = webhook_failed_redeliver(subscriptions=WebhookSubscription.objects.all())
    assert webhook_delivery_send(delivery_id=ids[0]).outcome == "delivered"
    subscription.refresh_from_db()
    assert subscription.failing_since is None


def test_redirects_are_not_followed_and_4xx_is_final(bare_order, subscription, mocked,
                                                     django_capture_on_commit_callbacks):
    mocked.post(RECEIVER, status=307, headers={"Location": "https://elsewhere.example.com/steal"})
    elsewhere = mocked.post("https://elsewhere.example.com/steal", status=200)
    _cancel(bare_order, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and "redirects are not followed" in delivery.last_error
    assert elsewhere.call_count == 0


def test_a_claimed_delivery_is_not_sent_twice_and_a_stale_claim_is_sent_again(bare_order, subscription, mocked,
                                                                                 django_capture_on_commit_callbacks):
    mocked.post(RECEIVER, status=503)
    _cancel(bare_order, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    # a worker claimed it and died mid-call: nothing else sends it until the claim expires
    WebhookDelivery.objects.update(next_attempt_at=timezone.now(),
                                   claimed_until=timezone.now() + dt.timedelta(minutes=1))
    assert webhook_delivery_send(delivery_id=delivery.pk).outcome == "skipped"
    assert webhook_deliveries_due_task() == 0
    WebhookDelivery.objects.update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    mocked.replace(responses.POST, RECEIVER, status=200)
    assert webhook_deliveries_due_task() == 1
    ids = {c.request.headers["Dropdesk-Event-Id"] for c in mocked.calls}
    assert ids == {str(delivery.event_id)}
    delivery.refresh_from_db()
    assert delivery.state == "delivered"


def test_response_excerpts_are_short_and_redacted(bare_order, subscription, mocked, django_capture_on_commit_callbacks):
    mocked.post(RECEIVER, status=400, body=f"bad signature {subscription.plain_secret} " + "x" * 5000)
    _cancel(bare_order, django_capture_on_commit_callbacks)
    attempt = WebhookAttempt.objects.get()
    assert subscription.plain_secret not in attempt.response_excerpt
    assert len(attempt.response_excerpt) <= 500 and attempt.outcome == "failed"


def test_old_attempts_are_purged(bare_order, subscription, mocked, settings, django_capture_on_commit_callbacks):
    mocked.post(RECEIVER, status=200)
    _cancel(bare_order, django_capture_on_commit_callbacks)
    later = timezone.now() + dt.timedelta(days=settings.WEBHOOK_RETENTION_DAYS + 1)
    WebhookEvent.objects.update(created_at=timezone.now() - dt.timedelta(days=settings.WEBHOOK_RETENTION_DAYS + 1))
    assert webhook_attempts_purge(now=later) == 1
    assert WebhookEvent.objects.count() == 0


def test_item_and_shipment_changes_are_events(merchant, subscription, mocked, django_capture_on_commit_callbacks):
    order = OrderFactory(merchant=merchant)
    item = OrderItemFactory(order=order)
    mocked.post(RECEIVER, status=200)
    with django_capture_on_commit_callbacks(execute=True):
        item.sync_state(target="shipped")
        item.save()
        Shipment.objects.create(order=order, carrier="DHL", tracking_number="TN1")
    bodies = [b for b in _bodies(mocked) if b["type"] != "order.created"]
    assert bodies[0]["type"] == "item.status_changed" and bodies[0]["data"]["object"]["id"] == item.pk
    assert bodies[0]["data"]["from"] == "new" and bodies[0]["data"]["to"] == "shipped"
    shipment = next(b for b in bodies if b["type"] == "shipment.created")["data"]["object"]
    assert shipment["tracking_number"] == "TN1"
