from __future__ import annotations

import datetime as dt

import pytest
import responses
from django.utils import timezone

from api.idempotency import idempotency_records_purge
from merchants.services import integration_create
from orders.models import IdempotencyRecord, Order, Shipment
from tests.api.conftest import token_client
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


def _body(merchant, sku="SKU-1"):
    return {"merchant": merchant.pk, "country": "FR", "items": [{"sku": sku, "quantity": 1}]}


def test_same_key_and_body_replays_the_first_response(api, merchant):
    first = api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert "Idempotent-Replayed" not in first
    assert Order.objects.count() == 1


def test_key_order_in_json_does_not_matter(api, merchant):
    api.post(URL, {"merchant": merchant.pk, "country": "FR"}, format="json",
             HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(URL, {"country": "FR", "merchant": merchant.pk}, format="json",
                     HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"


def test_same_key_different_body_is_409(api, merchant):
    api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    response = api.post(URL, _body(merchant, sku="OTHER"), format="json",
                        HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_same_key_on_another_endpoint_is_409(api, order):
    api.post(f"{URL}{order.pk}/transitions/cancel/", {}, format="json",
             HTTP_IDEMPOTENCY_KEY="k-1")
    response = api.post(f"{URL}{order.pk}/items/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 409


def test_without_a_key_every_post_acts(api, merchant):
    api.post(URL, _body(merchant), format="json")
    api.post(URL, _body(merchant), format="json")
    assert Order.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 0


def test_keys_belong_to_one_token(api, merchant):
    from merchants.services import integration_create

    _integration, key = integration_create(name="other")
    other = token_client(key)
    api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = other.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Order.objects.count() == 2


def test_errors_are_replayed_too(api, merchant):
    bad = {"merchant": merchant.pk, "country": "FRANCE"}
    first = api.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY="k-bad")
    second = api.post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY="k-bad")
    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()


def test_transition_replay_does_not_run_twice(api, merchant, mocked,
                                              django_capture_on_commit_callbacks):
    from tests.factories import OrderFactory, OrderItemFactory

    order = OrderFactory(merchant=merchant, state="placed", external_id="991")
    OrderItemFactory(order=order)
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/shipping", json={})
    url = f"{URL}{order.pk}/shipments/"
    with django_capture_on_commit_callbacks() as worker:
        first = api.post(url, {"tracking_number": "T1"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="ship-1")
        second = api.post(url, {"tracking_number": "T1"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="ship-1")
    assert first.status_code == second.status_code == 202  # queued: the provider takes it
    assert second.json() == first.json()
    assert len(worker) == 1 and len(mocked.calls) == 0  # the replay queued nothing more
    for task in worker:
        task()
    assert Shipment.objects.count() == 1 and len(mocked.calls) == 1


def test_key_still_running_is_409(api, merchant, integration):
    from api.idempotency import request_digest

    class _Request:  # what the first, still running, request looked like
        method, path, data = "POST", URL, _body(merchant)

    IdempotencyRecord.objects.create(user=integration.user, key="busy", method="POST", path=URL,
                                     request_hash=request_digest(_Request))  # type: ignore[arg-type]
    response = api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"
    assert Order.objects.count() == 0


def test_abandoned_in_progress_key_is_released(api, merchant, integration):
    IdempotencyRecord.objects.create(user=integration.user, key="stuck", method="POST", path=URL,
                                     request_hash="x",
                                     created_at=timezone.now() - dt.timedelta(minutes=11))
    response = api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="stuck")
    assert response.status_code == 201


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é"])
def test_malformed_key_is_400(api, merchant, key):
    response = api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]


def test_expired_keys_are_forgotten_and_purged(api, merchant, settings):
    api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    again = api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert Order.objects.count() == 2
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert idempotency_records_purge() == 1
    assert IdempotencyRecord.objects.count() == 0


def test_purge_task(api, merchant):
    from orders.tasks import idempotency_purge_task

    api.post(URL, _body(merchant), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert idempotency_purge_task.delay().get() == 0
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    assert idempotency_purge_task.delay().get() == 1


def test_every_post_route_checks_the_idempotency_key_it_documents(admin_user):
    # The schema documents Idempotency-Key on every POST (replayed, or 409 when reused): every
    # POST route honours it, so a malformed key is refused before anything else happens.
    # (The webhook and pipeline routes did not: a key was accepted and ignored, never replayed.)
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(admin_user)
    schema = client.get("/api/schema/?format=json").json()
    posts = [path for path, ops in schema["paths"].items()
             if path.startswith("/api/v1/") and "post" in ops]
    assert len(posts) > 20
    for path in posts:
        url = path.replace("{id}", "7c9e6679-7425-40de-944b-e07fc1f90ae7"
                           if path.startswith("/api/v1/webhooks/events/") else "999999")
        response = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="not a key")
        assert response.status_code == 400, (path, response.status_code)
        assert "Idempotency-Key" in response.json()["error"]["fields"], path


def test_a_webhook_test_delivery_is_replayed_not_sent_twice(db):
    from webhooks.models import WebhookDelivery, WebhookSubscription

    integration, key = integration_create(name="hooks")
    client = token_client(key)
    subscription = WebhookSubscription.objects.create(
        integration=integration, url="https://hooks.example.test/in", secret={"key": "s"})
    url = f"/api/v1/webhooks/subscriptions/{subscription.pk}/test/"
    first = client.post(url, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    second = client.post(url, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert first.status_code == second.status_code == 202
    assert second["Idempotent-Replayed"] == "true"
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 1
