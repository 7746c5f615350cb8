from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AccountFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def _change(merchant) -> str:
    return reverse("admin:merchants_merchant_change", args=[merchant.pk])


def test_merchant_page_shows_authorization_state_and_days_left(operator_client, merchant):
    html = operator_client.get(_change(merchant)).content.decode()
    assert "dd-auth-authorized" in html and "Authorized" in html
    assert ">29<" in html or ">30<" in html


def test_authorization_link_button_hidden_when_service_missing(operator_client, merchant,
                                                                monkeypatch):
    from merchants import services

    monkeypatch.delattr(services, "merchant_authorization_link_create", raising=False)
    html = operator_client.get(_change(merchant)).content.decode()
    assert "dd-send-auth-link" not in html


def test_authorization_link_button_registers_at_the_provider_and_shows_link(
    operator_client, mocked, settings
):
    """Regression: the change page's button called the link service without ``base_url``
    (a 500). It now registers the merchant at the provider (wire-mocked) with our landing URL
    under PUBLIC_BASE_URL and shows the one-time connect link."""
    import json

    import responses

    settings.PUBLIC_BASE_URL = "https://desk.example.test"
    account = AccountFactory(provider="aliseeks", base_url="https://api.aliseeks.test",
                             credentials={"api_key": "ak_button"})
    merchant = MerchantFactory(account=account, external_id="", authorized=False)
    mocked.add(responses.POST, "https://api.aliseeks.test/v1/merchants",
               json={"merchantId": "BtnShop01", "redirectUrl": "https://provider.test/ok"})
    page = operator_client.get(_change(merchant)).content.decode()
    assert "Send authorization link" in page

    response = operator_client.post(
        reverse("admin:merchants_merchant_authorization_link", args=[merchant.pk]), follow=True
    )

    assert response.status_code == 200
    body = json.loads(mocked.calls[0].request.body)
    assert body["redirectUrl"].startswith(
        "https://desk.example.test/merchants/authorization/return/")
    html = response.content.decode()
    assert 'class="dd-auth-link"' in html
    assert "https://desk.example.test/merchants/connect/" in html
    merchant.refresh_from_db()
    assert merchant.external_id == "BtnShop01"


def test_authorization_link_button_hidden_for_providers_without_links(operator_client, merchant):
    html = operator_client.get(_change(merchant)).content.decode()  # the fake provider
    assert "dd-send-auth-link" not in html
