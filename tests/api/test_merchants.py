from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from merchants import services as merchant_services
from merchants.models import Merchant, ProviderAccount
from tests.factories import AccountFactory, MerchantFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/merchants/"
ACCOUNTS = "/api/v1/accounts/"


# --- merchants -----------------------------------------------------------------------------
def test_list_and_filter_merchants(api, merchant):
    pending = MerchantFactory(authorized=False, account=AccountFactory(provider="tipser"))
    body = api.get(URL).json()
    assert body["count"] == 2
    assert api.get(URL, {"auth_state": "pending"}).json()["results"][0]["id"] == pending.pk
    assert api.get(URL, {"provider": "tipser"}).json()["count"] == 1
    assert api.get(URL, {"account": merchant.account_id}).json()["results"][0]["id"] == merchant.pk
    detail = api.get(f"{URL}{merchant.pk}/").json()
    assert detail["can_order"] is True and detail["provider"] == "fake"


def test_create_merchant(api, merchant):
    response = api.post(URL, {"account": merchant.account_id, "name": "New shop",
                              "contact_email": "a@b.test"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["auth_state"] == "pending"
    bad = api.post(URL, {"account": 10**25, "name": "", "contact_email": "x"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"account", "name", "contact_email"}


def test_scoped_token_cannot_create_merchants(scoped_api, merchant):
    response = scoped_api.post(URL, {"account": merchant.account_id, "name": "X"}, format="json")
    assert response.status_code == 403


def test_authorize_link_unavailable_is_409(api, merchant, monkeypatch):
    monkeypatch.delattr(merchant_services, "merchant_authorization_link_create", raising=False)
    response = api.post(f"{URL}{merchant.pk}/authorize/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "not_supported",
        "message": "authorization links are not available for this provider"}


@pytest.fixture
def aliseeks_merchant(db):
    """A merchant of a provider with authorization links (Aliseeks)."""
    return MerchantFactory(authorized=False, external_id="",
                           account=AccountFactory(provider="aliseeks"))


def test_authorize_returns_the_one_time_link(api, aliseeks_merchant, monkeypatch):
    """The worker ran at once (eager): 201 with the link it created."""
    calls = []
    expires = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    merchant = aliseeks_merchant

    def link_create(*, merchant, actor, base_url):
        calls.append((merchant.pk, actor.username, base_url))
        return {"url": f"{base_url}/merchants/authorize/abc", "expires_at": expires}

    monkeypatch.setattr(merchant_services, "merchant_authorization_link_create", link_create,
                        raising=False)
    response = api.post(f"{URL}{merchant.pk}/authorize/", {"mode": "link"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["authorization_url"] == "http://testserver/merchants/authorize/abc"
    assert body["expires_at"] == "2030-01-01T00:00:00Z"
    assert body["merchant"]["id"] == merchant.pk
    assert calls == [(merchant.pk, "api-erp", "http://testserver")]


def test_authorize_link_not_supported_by_provider_is_409(api, merchant, monkeypatch):
    """A provider without links is refused in the request: nothing queued."""
    calls = []
    monkeypatch.setattr(merchant_services, "merchant_authorization_link_create",
                        lambda **kwargs: calls.append(kwargs), raising=False)
    response = api.post(f"{URL}{merchant.pk}/authorize/", format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_supported"
    assert calls == []
    assert api.get(f"{URL}{merchant.pk}/authorization-link/").status_code == 404


def test_authorize_link_refused_by_the_worker_is_409(api, aliseeks_merchant, monkeypatch):
    from providers.errors import ProviderNotSupported

    def link_create(**kwargs):
        raise ProviderNotSupported("no links here")

    monkeypatch.setattr(merchant_services, "merchant_authorization_link_create", link_create,
                        raising=False)
    response = api.post(f"{URL}{aliseeks_merchant.pk}/authorize/", format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_supported"


def test_operator_authorizes_by_hand(operator_api):
    pending = MerchantFactory(authorized=False)
    response = operator_api.post(f"{URL}{pending.pk}/authorize/",
                                 {"mode": "manual", "external_id": "M-77"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["merchant"]["auth_state"] == "authorized"
    assert response.json()["authorization_url"] is None
    pending.refresh_from_db()
    assert pending.external_id == "M-77" and pending.can_order
    assert pending.events.filter(kind="authorized").exists()


def test_integration_token_cannot_authorize_by_hand(api):
    pending = MerchantFactory(authorized=False)
    response = api.post(f"{URL}{pending.pk}/authorize/", {"mode": "manual"}, format="json")
    assert response.status_code == 403
    assert Merchant.objects.get(pk=pending.pk).auth_state == "pending"


def test_authorize_rejects_unknown_mode(operator_api, merchant):
    response = operator_api.post(f"{URL}{merchant.pk}/authorize/", {"mode": "magic"},
                                 format="json")
    assert response.status_code == 400
    assert "mode" in response.json()["error"]["fields"]


def test_revoke(operator_api, merchant):
    response = operator_api.post(f"{URL}{merchant.pk}/revoke/", format="json")
    assert response.status_code == 200
    assert response.json()["auth_state"] == "revoked"
    again = operator_api.post(f"{URL}{merchant.pk}/revoke/", format="json")
    assert again.status_code == 409


# --- provider accounts -----------------------------------------------------------------------
def test_accounts_are_staff_only(api, scoped_api, merchant):
    assert api.get(ACCOUNTS).status_code == 403
    assert scoped_api.get(ACCOUNTS).status_code == 403


def test_accounts_never_return_credentials(staff_api, merchant):
    response = staff_api.get(f"{ACCOUNTS}{merchant.account_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["credentials_set"] == ["api_key"]
    assert body["credential_fields"] == ["api_key"]
    assert "credentials" not in body
    assert "supersecret" not in response.content.decode()
    listed = staff_api.get(ACCOUNTS).content.decode()
    assert "supersecret" not in listed and "sk_test" not in listed


def test_create_account_with_write_only_credentials(staff_api):
    response = staff_api.post(ACCOUNTS, {
        "provider": "tipser", "name": "Tipser EU", "environment": "sandbox",
        "base_url": "http://127.0.0.1:8000/sandbox/tipser", "options": {"locale": "en"},
        "credentials": {"api_key": "t0ps3cret-value"},
    }, format="json")
    assert response.status_code == 201, response.json()
    assert "t0ps3cret" not in response.content.decode()
    account = ProviderAccount.objects.get(pk=response.json()["id"])
    assert account.credentials == {"api_key": "t0ps3cret-value"}
    assert response.json()["credentials_set"] == ["api_key"]


def test_update_account_merges_credentials_and_blank_keeps(staff_api, merchant):
    url = f"{ACCOUNTS}{merchant.account_id}/"
    response = staff_api.patch(url, {"name": "Renamed", "credentials": {"api_key": ""}},
                               format="json")
    assert response.status_code == 200, response.json()
    account = ProviderAccount.objects.get(pk=merchant.account_id)
    assert account.name == "Renamed"
    assert account.credentials == {"api_key": "sk_test_supersecret_123"}
    staff_api.patch(url, {"credentials": {"api_key": "sk_new_value_456"}}, format="json")
    account.refresh_from_db()
    assert account.credentials == {"api_key": "sk_new_value_456"}


def test_account_validation_names_fields(staff_api, merchant):
    response = staff_api.post(ACCOUNTS, {"provider": "nope", "base_url": "ftp:/x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"provider", "name", "base_url"}
    url = f"{ACCOUNTS}{merchant.account_id}/"
    # another provider's credential: it conflicts with the stored account's provider (409)
    unknown = staff_api.patch(url, {"credentials": {"password": "x"}}, format="json")
    assert unknown.status_code == 409
    assert set(unknown.json()["error"]["fields"]) == {"credentials.password"}
    nobody = staff_api.patch(url, {"credentials": {"no-such-name": "x"}}, format="json")
    assert nobody.status_code == 400
    fixed = staff_api.patch(url, {"provider": "tipser"}, format="json")
    assert fixed.json()["error"]["fields"] == {"provider": ["Unknown field."]}


def test_operator_session_can_manage_accounts(operator, merchant):
    client = APIClient()
    client.force_login(operator)
    assert client.get(ACCOUNTS).status_code == 200


def test_account_check_calls_the_provider(staff_api, merchant, mocked):
    # the fake provider has no account check: a result (ok false), nothing sent or queued
    response = staff_api.post(f"{ACCOUNTS}{merchant.account_id}/check/", format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["detail"]) == (False, "This provider has no credentials check.")
    assert body["reason"] == body["message"] == body["detail"] and body["checked_at"]
    assert len(mocked.calls) == 0
    assert staff_api.get(f"{ACCOUNTS}{merchant.account_id}/check/").json() == body


def test_account_sync_pulls_incoming_orders_in_the_background(
    staff_api, merchant, mocked, django_capture_on_commit_callbacks
):
    import responses as rsps

    from orders.models import Order
    from tests.fake_provider import BASE_URL

    mocked.add(rsps.GET, f"{BASE_URL}/incoming", json={"pages": 1, "orders": [
        {"id": "EXT-1", "number": "T-1", "status": "NEW", "items": []}]})
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(f"{ACCOUNTS}{merchant.account_id}/sync/", format="json")
    assert response.status_code == 202
    assert response.json()["location"] == "/api/v1/orders/?provider=fake"
    assert Order.objects.filter(external_id="EXT-1").exists()


def test_account_sync_needs_change_permission(api, merchant):
    assert api.post(f"{ACCOUNTS}{merchant.account_id}/sync/").status_code == 403


# --- issue 21, finding 5: authorization links need the change permission --------------------
def test_readonly_user_cannot_create_authorization_links(readonly_user, merchant, monkeypatch):
    calls = []
    monkeypatch.setattr(merchant_services, "merchant_authorization_link_create",
                        lambda **kwargs: calls.append(kwargs) or "https://x.test/l",
                        raising=False)
    client = APIClient()
    client.force_login(readonly_user)
    response = client.post(f"{URL}{merchant.pk}/authorize/", {"mode": "link"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] in ("forbidden", "permission_denied")
    assert calls == []
    assert not merchant.authorization_requests.exists()


def test_scoped_token_without_change_permission_cannot_create_links(scoped_api, merchant,
                                                                     monkeypatch):
    calls = []
    monkeypatch.setattr(merchant_services, "merchant_authorization_link_create",
                        lambda **kwargs: calls.append(kwargs) or "https://x.test/l",
                        raising=False)
    response = scoped_api.post(f"{URL}{merchant.pk}/authorize/", format="json")
    assert response.status_code == 403 and calls == []
