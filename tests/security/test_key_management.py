"""Issue 21, finding 7 and "Key management": FIELD_ENCRYPTION_KEY checked, wrong keys survivable,
keys rotatable, masks that show nothing, no key on the debug page."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.checks import Error
from django.core.management import call_command
from django.db import connection
from django.urls import path, reverse
from rest_framework.test import APIClient

from merchants import checks
from merchants.models import ProviderAccount
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
SECRET = "keymgmt-Secret-Value-9d2e"
UNREADABLE = "credentials unreadable — enter them again"


def _stored(account: ProviderAccount) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM merchants_provideraccount WHERE id = %s",
                       [account.pk])
        return cursor.fetchone()[0]


def _errors(results) -> list[str]:
    return [f"{e.id}: {e.msg}" for e in results if isinstance(e, Error)]


# --- the system checks -------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["not-a-key", "c2hvcnQ=", KEY_A[:-4]])
def test_check_refuses_a_key_that_is_not_a_fernet_key(settings, bad):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A, bad]
    errors = _errors(checks.check_encryption_key(None))
    assert len(errors) == 1 and "FIELD_ENCRYPTION_KEY" in errors[0] and "#2" in errors[0]
    assert bad not in errors[0]  # the message never repeats the key
    with pytest.raises(Exception, match="FIELD_ENCRYPTION_KEY"):
        call_command("check")


def test_check_accepts_fernet_keys(settings):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A, KEY_B]
    assert _errors(checks.check_encryption_key(None)) == []


def test_deploy_check_says_which_accounts_do_not_decrypt(settings):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A]
    old = AccountFactory(name="Old shop", credentials={"api_key": SECRET})
    settings.FIELD_ENCRYPTION_KEY = [KEY_B]
    AccountFactory(name="New shop", credentials={"api_key": SECRET})
    errors = _errors(checks.check_stored_credentials_decrypt(None))
    assert len(errors) == 1
    assert "Old shop" in errors[0] and f"#{old.pk}" in errors[0] and "New shop" not in errors[0]
    assert SECRET not in errors[0]
    settings.FIELD_ENCRYPTION_KEY = [KEY_B, KEY_A]  # the old key kept for decryption: fine
    assert _errors(checks.check_stored_credentials_decrypt(None)) == []


# --- pages with a wrong or malformed key -------------------------------------------------------
def _pages(account, merchant, order) -> dict[str, str]:
    return {
        "admin accounts": reverse("admin:merchants_provideraccount_changelist"),
        "admin account": reverse("admin:merchants_provideraccount_change", args=[account.pk]),
        "admin merchants": reverse("admin:merchants_merchant_changelist"),
        "admin merchant": reverse("admin:merchants_merchant_change", args=[merchant.pk]),
        "admin orders": reverse("admin:orders_order_changelist"),
        "admin order": reverse("admin:orders_order_change", args=[order.pk]),
        "admin items": reverse("admin:orders_orderitem_changelist"),
        "admin shipments": reverse("admin:orders_shipment_changelist"),
        "admin csv": reverse("admin:orders_order_export_csv"),
        "admin index": reverse("admin:index"),
        "api accounts": "/api/v1/accounts/",
        "api account": f"/api/v1/accounts/{account.pk}/",
        "api merchants": "/api/v1/merchants/",
        "api merchant": f"/api/v1/merchants/{merchant.pk}/",
        "api orders": "/api/v1/orders/",
        "api order": f"/api/v1/orders/{order.pk}/",
    }


@pytest.mark.parametrize("wrong_key", [KEY_B, "malformed-key"], ids=["other key", "malformed"])
def test_every_page_renders_with_unreadable_credentials(settings, admin_user, client, wrong_key):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A]
    for provider in ("tipser", "aliseeks"):
        account = AccountFactory(provider=provider, credentials={"api_key": SECRET})
        merchant = MerchantFactory(account=account)
        order = OrderFactory(merchant=merchant)
        OrderItemFactory(order=order)
    settings.FIELD_ENCRYPTION_KEY = [wrong_key]
    client.force_login(admin_user)
    api = APIClient()
    api.force_login(admin_user)
    failures = {}
    for name, url in _pages(account, merchant, order).items():
        response = (api if name.startswith("api") else client).get(url)
        if response.status_code != 200:
            failures[name] = response.status_code
    assert failures == {}

    page = client.get(reverse("admin:merchants_provideraccount_change", args=[account.pk]))
    assert UNREADABLE in page.content.decode()
    body = api.get(f"/api/v1/accounts/{account.pk}/").json()
    assert body["credentials_readable"] is False and body["credentials_set"] == []


def test_account_page_reenters_credentials_after_the_key_was_lost(settings, admin_user, client):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A]
    account = AccountFactory(provider="tipser", name="Shop", credentials={"api_key": SECRET},
                             options={"page_size": 2})
    settings.FIELD_ENCRYPTION_KEY = [KEY_B]
    client.force_login(admin_user)
    url = reverse("admin:merchants_provideraccount_change", args=[account.pk])
    response = client.post(url, {
        "provider": "tipser", "name": "Shop", "environment": "sandbox", "base_url": "",
        "options": "{}", "is_active": "on", "cred__api_key": "new-key-123456",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ProviderAccount.objects.get(pk=account.pk)
    assert account.credentials_readable and account.credentials == {"api_key": "new-key-123456"}


def test_saving_an_account_for_another_reason_keeps_the_unreadable_value(settings):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A]
    account = AccountFactory(credentials={"api_key": SECRET})
    token = _stored(account)
    settings.FIELD_ENCRYPTION_KEY = [KEY_B]
    account = ProviderAccount.objects.get(pk=account.pk)
    assert not account.credentials_readable
    account.state = {"cursor": 1}
    account.save()
    assert _stored(account) == token  # the right key, restored, still reads it
    settings.FIELD_ENCRYPTION_KEY = [KEY_B, KEY_A]
    assert ProviderAccount.objects.get(pk=account.pk).credentials == {"api_key": SECRET}


def test_a_provider_call_with_unreadable_credentials_is_refused_before_sending(settings, mocked):
    from merchants.provider_requests import provider_service as service_for
    from providers.errors import ProviderRejected

    settings.FIELD_ENCRYPTION_KEY = [KEY_A]
    account = AccountFactory(provider="tipser", credentials={"api_key": SECRET})
    settings.FIELD_ENCRYPTION_KEY = [KEY_B]
    account = ProviderAccount.objects.get(pk=account.pk)
    with pytest.raises(ProviderRejected, match="credentials unreadable"):
        service_for(account).check_account()
    assert len(mocked.calls) == 0


# --- rotation ----------------------------------------------------------------------------------
def test_rotate_encryption_key_lets_the_old_key_be_retired(settings):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A]
    accounts = [AccountFactory(credentials={"api_key": f"{SECRET}-{n}"}) for n in range(3)]
    empty = AccountFactory(credentials={})
    settings.FIELD_ENCRYPTION_KEY = [KEY_B, KEY_A]
    call_command("rotate_encryption_key")
    settings.FIELD_ENCRYPTION_KEY = [KEY_B]
    for n, account in enumerate(accounts):
        assert ProviderAccount.objects.get(pk=account.pk).credentials == {
            "api_key": f"{SECRET}-{n}"}
    assert ProviderAccount.objects.get(pk=empty.pk).credentials == {}
    assert Fernet(KEY_B.encode()).decrypt(_stored(accounts[0]).encode())


def test_rotate_stops_on_a_value_no_key_reads_and_changes_nothing(settings):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A]
    account = AccountFactory(credentials={"api_key": SECRET})
    before = _stored(account)
    settings.FIELD_ENCRYPTION_KEY = [KEY_B]
    with pytest.raises(Exception, match=str(account.pk)):
        call_command("rotate_encryption_key")
    assert _stored(account) == before


# --- masks ---------------------------------------------------------------------------------------
def test_masks_show_no_character_of_a_secret(admin_user, client):
    account = AccountFactory(provider="reseller", credentials={
        "client_id": "client-id-abcdefXY", "client_secret": "secret-value-ZQ",
        "username": "api-user-01", "password": "password-long-PW"})
    assert account.masked_credentials() == {
        "client_id": "set", "client_secret": "set", "password": "set", "username": "set"}
    client.force_login(admin_user)
    page = client.get(reverse("admin:merchants_provideraccount_change", args=[account.pk]))
    text = page.content.decode()
    assert "…XY" not in text and "…PW" not in text and "…ZQ" not in text
    assert "password-long-PW" not in text


# --- the debug page ------------------------------------------------------------------------------
def _explode(request):
    from merchants.crypto import configured_keys

    keys = configured_keys()
    fernet_key = keys[0]  # noqa: F841
    account = ProviderAccount.objects.get()
    credentials = dict(account.credentials)  # noqa: F841
    raise RuntimeError(f"boom with {account.credentials['api_key']}")


urlpatterns = [path("explode/", _explode)]


@pytest.mark.urls(__name__)
def test_debug_page_shows_no_key_and_no_credential(settings, client):
    settings.DEBUG = True
    settings.FIELD_ENCRYPTION_KEY = [KEY_A, KEY_B]
    AccountFactory(credentials={"api_key": SECRET})
    client.raise_request_exception = False
    response = client.get("/explode/?apiKey=" + SECRET, HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    body = response.content.decode()
    assert "RuntimeError" in body and "fernet_key" in body  # the technical page, with locals
    for value in (KEY_A, KEY_B, SECRET, settings.SECRET_KEY):
        assert value not in body
    text = client.get("/explode/", HTTP_ACCEPT="text/plain").content.decode()
    assert "RuntimeError" in text
    for value in (KEY_A, KEY_B, SECRET):
        assert value not in text


def test_a_malformed_key_gives_a_form_error_not_a_500(settings, admin_user, client):
    settings.FIELD_ENCRYPTION_KEY = [KEY_A]
    account = AccountFactory(provider="tipser", name="Shop", credentials={"api_key": SECRET},
                             options={"page_size": 2})
    settings.FIELD_ENCRYPTION_KEY = ["malformed-key"]
    client.force_login(admin_user)
    url = reverse("admin:merchants_provideraccount_change", args=[account.pk])
    response = client.post(url, {
        "provider": "tipser", "name": "Shop", "environment": "sandbox", "base_url": "",
        "options": '{"page_size": 2}', "is_active": "on", "cred__api_key": "new-key-123456",
    })
    assert response.status_code == 200
    assert "FIELD_ENCRYPTION_KEY is not a valid Fernet key" in response.content.decode()
    api = APIClient()
    api.force_login(admin_user)
    reply = api.patch(f"/api/v1/accounts/{account.pk}/",
                      {"credentials": {"api_key": "new-key-123456"}}, format="json")
    assert reply.status_code == 400 and "FIELD_ENCRYPTION_KEY" in reply.content.decode()
