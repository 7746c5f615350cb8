from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import MerchantFactory

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


def test_authorization_link_button_creates_and_shows_link(operator_client, operator,
                                                          monkeypatch):
    from merchants import services

    merchant = MerchantFactory(authorized=False)
    calls = []

    def fake_create(*, merchant, actor=None):
        calls.append((merchant.pk, actor))
        return "https://dropdesk.test/merchants/authorize/abc"

    monkeypatch.setattr(services, "merchant_authorization_link_create", fake_create,
                        raising=False)
    page = operator_client.get(_change(merchant)).content.decode()
    assert "Send authorization link" in page

    response = operator_client.post(
        reverse("admin:merchants_merchant_authorization_link", args=[merchant.pk]), follow=True
    )

    assert calls == [(merchant.pk, operator)]
    assert "https://dropdesk.test/merchants/authorize/abc" in response.content.decode()
