from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from merchants.services import integration_create
from webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from webhooks.services import webhook_subscription_create

from .conftest import RECEIVER

pytestmark = pytest.mark.django_db
SUBS = "/api/v1/webhooks/subscriptions/"


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_an_integration_subscribes_and_sees_the_secret_once(hook_integration, mocked,
                                                             django_capture_on_commit_callbacks):
    api = _client(hook_integration.key)
    answer = api.post(SUBS, {"url": RECEIVER, "event_types": ["order.created"]}, format="json")
    assert answer.status_code == 201, answer.content
    secret = answer.json()["secret"]
    assert secret.startswith("whsec_")
    listed = api.get(SUBS).json()
    assert secret not in str(listed) and listed["results"][0]["event_types"] == ["order.created"]
    assert secret not in WebhookSubscription.objects.values_list("secret", flat=True)[0]  # encrypted

    mocked.post(RECEIVER, status=200)
    with django_capture_on_commit_callbacks(execute=True):
        test = api.post(f"{SUBS}{answer.json()['id']}/test/")
    assert test.status_code == 202
    assert mocked.calls[0].request.headers["Dropdesk-Event-Type"] == "webhook.test"
    events = api.get("/api/v1/webhooks/events/").json()["results"]
    assert events[0]["type"] == "webhook.test"
    assert events[0]["deliveries"][0]["attempt_log"][0]["http_status"] == 200


@pytest.mark.parametrize(("body", "field", "status"), [
    # well formed (the schema's URL shape), but not a receiver we may send to: 409
    ({"url": "http://hooks.example.com/x"}, "url", 409),
    ({"url": "https://nowhere.invalid/x"}, "url", 409),
    ({"url": "https://10.0.0.1/x"}, "url", 409),
    # not what the schema allows: 400
    ({"url": "not a url"}, "url", 400),
    ({"url": "ftp://hooks.example.com/x"}, "url", 400),
    ({"url": "https://me:pw@hooks.example.com/x"}, "url", 400),
    ({"url": RECEIVER, "event_types": ["order.exploded"]}, "event_types", 400),
    ({"url": RECEIVER, "secret": "mine"}, "secret", 400),
])
def test_bad_subscriptions_are_refused_naming_the_field(hook_integration, body, field, status):
    answer = _client(hook_integration.key).post(SUBS, body, format="json")
    assert answer.status_code == status, answer.content
    assert any(key.startswith(field) for key in answer.json()["error"]["fields"]), answer.json()
    assert WebhookSubscription.objects.count() == 0


def test_subscriptions_and_events_of_another_integration_are_invisible(hook_integration, bare_order):
    other, _key = integration_create(name="someone-else")
    sub, _ = webhook_subscription_create(integration=other, url=RECEIVER)
    api = _client(hook_integration.key)
    assert api.get(f"{SUBS}{sub.pk}/").status_code == 404
    assert api.post(f"{SUBS}{sub.pk}/test/").status_code == 404
    assert api.patch(f"{SUBS}{sub.pk}/", {"is_active": False}, format="json").status_code == 404
    assert api.delete(f"{SUBS}{sub.pk}/").status_code == 404
    assert api.get(SUBS).json()["results"] == []
    assert WebhookSubscription.objects.get().is_active


def test_a_read_only_operator_cannot_change_webhooks(readonly_user, hook_integration):
    sub, _ = webhook_subscription_create(integration=hook_integration, url=RECEIVER)
    client = APIClient()
    client.force_login(readonly_user)
    assert client.post(f"{SUBS}{sub.pk}/test/").status_code == 403
    assert client.post(SUBS, {"url": RECEIVER}, format="json").status_code == 403
    assert client.delete(f"{SUBS}{sub.pk}/").status_code == 403
    assert WebhookDelivery.objects.count() == 0


def test_redeliver_an_event_keeps_its_id(hook_integration, bare_order, mocked, django_capture_on_commit_callbacks):
    from orders.services import order_cancel

    api = _client(hook_integration.key)
    api.post(SUBS, {"url": RECEIVER}, format="json")
    mocked.post(RECEIVER, status=200)
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=bare_order)
    event = WebhookEvent.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/webhooks/events/{event.pk}/redeliver/")
    assert answer.json() == {"queued": 1}
    assert [c.request.headers["Dropdesk-Event-Id"] for c in mocked.calls] == [str(event.pk)] * 2


def test_the_admin_add_page_shows_every_field_and_refuses_a_private_url(client, operator, hook_integration):
    operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    client.force_login(operator)
    page = client.get(reverse("admin:webhooks_webhooksubscription_add")).content.decode()
    for name in ('name="integration"', 'name="url"', 'name="event_types"', 'name="is_active"'):
        assert name in page
    answer = client.post(reverse("admin:webhooks_webhooksubscription_add"), {
        "integration": hook_integration.pk, "url": "https://192.168.1.5/x", "is_active": "on"})
    assert answer.status_code == 200 and "private or local" in answer.content.decode()
    answer = client.post(reverse("admin:webhooks_webhooksubscription_add"), {
        "integration": hook_integration.pk, "url": RECEIVER, "event_types": ["order.created"],
        "is_active": "on"}, follow=True)
    assert "Signing secret (shown only this once" in answer.content.decode()
    assert WebhookSubscription.objects.get().event_types == ["order.created"]


def test_read_only_admin_users_get_no_webhook_actions(client, readonly_user, hook_integration):
    readonly_user.user_permissions.add(*Permission.objects.filter(codename__startswith="view_webhook"))
    webhook_subscription_create(integration=hook_integration, url=RECEIVER)
    client.force_login(readonly_user)
    page = client.get(reverse("admin:webhooks_webhooksubscription_changelist"))
    assert page.status_code == 200
    assert "send_test_event" not in page.content.decode()
