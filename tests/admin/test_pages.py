from __future__ import annotations

import pytest
import responses
from django.urls import reverse

from merchants import services as merchant_services
from merchants.models import Merchant, MerchantEvent, ProviderAccount
from orders import services
from orders.models import Order, OrderEvent, OrderItem, Shipment
from tests.factories import OrderFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db

MODELS = [ProviderAccount, Merchant, MerchantEvent, Order, OrderItem, Shipment, OrderEvent]


@pytest.fixture
def populated(order, mocked):
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": "E1", "status": "NEW"})
    mocked.add(responses.POST, f"{BASE_URL}/orders/E1/shipping", json={})
    services.order_place(order=order)
    services.order_ship(order=order, tracking_number="TRACK-1")
    merchant_services.merchant_revoke(merchant=order.merchant, reason="test")
    return order


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_changelist_and_change_page_renders(admin_client, populated, model):
    opts = model._meta
    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200
    obj = model.objects.first()
    response = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    )
    assert response.status_code == 200


def test_account_page_never_shows_credentials(admin_client, populated):
    account = populated.merchant.account
    html = admin_client.get(reverse("admin:merchants_provideraccount_change", args=[account.pk])).content.decode()
    assert "sk_test_supersecret_123" not in html
    assert "api_key" in html  # it says the key is set


def test_credentials_are_encrypted_at_rest_and_blank_keeps_them(admin_client, merchant):
    from django.db import connection

    account = merchant.account
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM merchants_provideraccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert "supersecret" not in stored
    url = reverse("admin:merchants_provideraccount_change", args=[account.pk])
    response = admin_client.post(url, {
        "provider": "fake", "name": account.name, "environment": "sandbox", "base_url": "",
        "options": "{}", "is_active": "on", "cred__api_key": "",
    })
    assert response.status_code == 302, response.content[:2000]
    account.refresh_from_db()
    assert account.credentials == {"api_key": "sk_test_supersecret_123"}


def test_order_changelist_query_count_does_not_grow_with_rows(admin_client, merchant, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:orders_order_changelist")
    OrderFactory.create_batch(3, merchant=merchant)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    OrderFactory.create_batch(40, merchant=merchant)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(few.captured_queries) == len(many.captured_queries)


def test_place_button_queues_the_placement_for_the_worker(admin_client, order, mocked,
                                                           django_capture_on_commit_callbacks):
    """The button answers at once (no provider call in the web request); the worker places."""
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": "E9", "status": "NEW"})
    url = reverse("admin:orders_order_change", args=[order.pk])
    page = admin_client.get(url).content.decode()
    assert "Place with provider" in page
    with django_capture_on_commit_callbacks() as worker:
        response = admin_client.post(url, {"_fsm_transition_to": "place", **_order_form(order)},
                                     follow=True)
    assert response.redirect_chain[0][1] == 302
    assert "placement queued" in response.content.decode()
    assert len(mocked.calls) == 0 and worker  # nothing sent yet: the task is queued
    order.refresh_from_db()
    assert order.state == "draft"
    for task in worker:
        task()
    order.refresh_from_db()
    assert order.state == "placed" and order.external_id == "E9"


def test_readonly_user_sees_no_buttons_and_cannot_transition(client, readonly_user, order, mocked):
    client.force_login(readonly_user)
    url = reverse("admin:orders_order_change", args=[order.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Place with provider" not in page.content.decode()
    client.post(url, {"_fsm_transition_to": "place", **_order_form(order)})
    response = client.post(reverse("admin:orders_order_transition", args=[order.pk, "cancel"]), {"reason": "x"})
    assert response.status_code in (302, 403)
    order.refresh_from_db()
    assert order.state == "draft"
    assert len(mocked.calls) == 0


def _order_form(order):
    data = {"merchant": order.merchant_id, "reference": order.reference, "currency": "EUR",
            "shipping_total": "0", "provider_options": "{}"}
    for field in ("contact_name", "contact_email", "phone_prefix", "phone_number", "address_line1",
                  "address_line2", "city", "region", "postal_code", "country"):
        data[field] = getattr(order, field)
    for prefix, count in (("items", order.items.count()), ("shipments", 0), ("events", order.events.count())):
        data.update({f"{prefix}-TOTAL_FORMS": count, f"{prefix}-INITIAL_FORMS": count,
                     f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
    for n, item in enumerate(order.items.order_by("pk")):
        data.update({f"items-{n}-id": item.pk, f"items-{n}-order": order.pk, f"items-{n}-name": item.name,
                     f"items-{n}-product_id": item.product_id, f"items-{n}-sku": item.sku,
                     f"items-{n}-quantity": item.quantity, f"items-{n}-unit_price": item.unit_price})
    for n, event in enumerate(order.events.all()):
        data[f"events-{n}-id"] = event.pk
        data[f"events-{n}-order"] = order.pk
    return data


@pytest.mark.django_db(transaction=True)
def test_transition_button_calls_the_provider_after_the_form_transaction_committed(
    admin_client, order, mocked
):
    """Regression: the order page's 'Place with provider' ran inside the admin's form
    transaction, so the provider call held the database write lock (the demo sandboxes,
    served by the same process on SQLite, then failed with 'database is locked')."""
    import json

    from django.db import connection

    seen = {}

    def create(request):
        seen["in_transaction"] = connection.in_atomic_block
        seen["committed_state"] = Order.objects.get(pk=order.pk).state
        return 200, {}, json.dumps({"id": "E10", "status": "NEW"})

    mocked.add_callback(responses.POST, f"{BASE_URL}/orders", callback=create,
                        content_type="application/json")
    url = reverse("admin:orders_order_change", args=[order.pk])
    response = admin_client.post(url, {"_fsm_transition_to": "place", "contact_name": "Edited",
                                       **{k: v for k, v in _order_form(order).items()
                                          if k != "contact_name"}})
    assert response.status_code == 302
    assert seen == {"in_transaction": False, "committed_state": "placing"}
    order.refresh_from_db()
    assert order.state == "placed" and order.external_id == "E10"
    assert order.contact_name == "Edited"  # the form is still saved with the button


def test_every_registered_admin_changelist_renders(admin_client, populated):
    """Every model registered in the admin (sandbox state, bulk runs, integrations, periodic
    tasks, …) lists without error; change pages too where a row exists."""
    from django.contrib import admin as django_admin

    for model, model_admin in django_admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
        obj = model_admin.get_queryset(_request()).first()
        if obj is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            assert admin_client.get(change).status_code == 200, change


def _request():
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.filter(is_superuser=True).first()
    return request


def test_credentials_decrypt_once_per_token_and_survive_key_rotation(settings, merchant):
    from merchants import crypto
    from merchants.models import ProviderAccount

    crypto._decrypt.cache_clear()
    list(ProviderAccount.objects.all())
    list(ProviderAccount.objects.all())
    assert crypto._decrypt.cache_info().hits >= 1  # the second read did not decrypt again
    old_key = settings.FIELD_ENCRYPTION_KEY[0]
    settings.FIELD_ENCRYPTION_KEY = ["Hd8b4cX2-9rQ0VxH6uY1mN3pW5sT7aZ0kLqJ2eF4gBc=", old_key]
    account = ProviderAccount.objects.get(pk=merchant.account_id)  # old key still decrypts
    assert account.credentials == {"api_key": "sk_test_supersecret_123"}
    account.save()  # re-encrypted with the new first key
    settings.FIELD_ENCRYPTION_KEY = ["Hd8b4cX2-9rQ0VxH6uY1mN3pW5sT7aZ0kLqJ2eF4gBc="]
    assert ProviderAccount.objects.get(pk=merchant.account_id).credentials["api_key"].startswith("sk_")
