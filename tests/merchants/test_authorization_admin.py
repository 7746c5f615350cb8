"""Operator side of merchant authorization: admin actions, expiry filter, monthly sweep."""

from __future__ import annotations

import datetime as dt

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from merchants import services
from merchants.models import Merchant
from tests.factories import AccountFactory, MerchantFactory

pytestmark = pytest.mark.django_db
BASE = "https://api.aliseeks.com"


@pytest.fixture
def account(db):
    return AccountFactory(provider="aliseeks", base_url="", credentials={"api_key": "ak_admin_1"})


@pytest.fixture
def staff_client(client, operator):
    client.force_login(operator)
    return client


def _changelist():
    return reverse("admin:merchants_merchant_changelist")


def test_send_authorization_link_action_registers_and_shows_the_link(
    staff_client, mocked, account
):
    merchant = MerchantFactory(account=account, external_id="", authorized=False)
    mocked.add(responses.POST, f"{BASE}/v1/merchants",
               json={"merchantId": "AjbjasWsnzse",
                     "redirectUrl": "https://redirect-your-customer-here.com"},
               match=[responses.matchers.header_matcher({"X-Api-Client-Id": "ak_admin_1"})])
    response = staff_client.post(_changelist(), {
        "action": "send_authorization_link", "_selected_action": [merchant.pk]}, follow=True)
    text = response.content.decode()
    assert "send this one-time link" in text
    assert "http://testserver/merchants/connect/" in text
    merchant.refresh_from_db()
    assert merchant.external_id == "AjbjasWsnzse"
    assert "redirect-your-customer-here" not in text  # the provider URL stays ours to use


def test_send_link_refusal_is_shown_with_the_manual_path(staff_client, mocked, account):
    merchant = MerchantFactory(account=account, external_id="", authorized=False)
    mocked.add(responses.POST, f"{BASE}/v1/merchants", status=403,
               json=[{"code": "Forbidden", "field": "", "violation": "not whitelisted"}])
    response = staff_client.post(_changelist(), {
        "action": "send_authorization_link", "_selected_action": [merchant.pk]}, follow=True)
    text = response.content.decode()
    assert "not whitelisted" in text and "Merchant ID" in text


def test_verify_merchant_id_action_authorizes_after_the_check(staff_client, mocked, account):
    """Eager Celery (the worker ran at once): the page shows the outcome."""
    merchant = MerchantFactory(account=account, external_id="ConsoleId", authorized=False)
    mocked.add(responses.GET, f"{BASE}/v1/orders", status=404,
               json=[{"code": "NotFound", "field": "orderId", "violation": "NotFound"}],
               match=[responses.matchers.query_param_matcher(
                   {"merchantId": "ConsoleId", "orderId": "0"})])
    response = staff_client.post(_changelist(), {
        "action": "verify_merchant_id", "_selected_action": [merchant.pk]}, follow=True)
    assert "Merchant ID ConsoleId verified with Aliseeks" in response.content.decode()
    merchant.refresh_from_db()
    assert merchant.auth_state == "authorized"
    assert "is authorized until" in response.content.decode()


def test_expiry_filter_lists_expiring_within_seven_days_and_expired(staff_client, account):
    now = timezone.now()
    soon = MerchantFactory(account=account, name="Soon shop")
    Merchant.objects.filter(pk=soon.pk).update(authorization_expires_at=now + dt.timedelta(days=3))
    later = MerchantFactory(account=account, name="Later shop")
    Merchant.objects.filter(pk=later.pk).update(
        authorization_expires_at=now + dt.timedelta(days=20))
    gone = MerchantFactory(account=account, name="Gone shop")
    Merchant.objects.filter(pk=gone.pk).update(auth_state="expired")
    lapsed = MerchantFactory(account=account, name="Lapsed shop")
    Merchant.objects.filter(pk=lapsed.pk).update(
        authorization_expires_at=now - dt.timedelta(hours=1))

    def names(value):
        response = staff_client.get(_changelist(), {"expiry": value})
        return {m.name for m in response.context["cl"].result_list}

    assert names("soon") == {"Soon shop"}
    assert names("expired") == {"Gone shop", "Lapsed shop"}
    page = staff_client.get(_changelist()).content.decode()
    assert "Expiring in 7 days" in page


def test_sweep_expires_lapsed_and_flags_expiring_aliseeks_merchants(account):
    now = timezone.now()
    lapsed = MerchantFactory(account=account)
    Merchant.objects.filter(pk=lapsed.pk).update(
        authorization_expires_at=now - dt.timedelta(minutes=1))
    soon = MerchantFactory(account=account)
    Merchant.objects.filter(pk=soon.pk).update(authorization_expires_at=now + dt.timedelta(days=2))
    fine = MerchantFactory(account=account)
    counts = services.merchant_authorizations_sweep(now=now)
    assert counts == {"expired": 1, "expiring": 1}
    states = dict(Merchant.objects.values_list("pk", "auth_state"))
    assert states[lapsed.pk] == "expired" and states[soon.pk] == "expiring"
    assert states[fine.pk] == "authorized"
    assert lapsed.events.filter(kind="expired").exists()
    assert services.merchant_authorizations_sweep(now=now) == {"expired": 0, "expiring": 0}


def test_sweep_task_runs_the_service(account):
    from merchants.tasks import merchant_authorizations_sweep_task

    lapsed = MerchantFactory(account=account)
    Merchant.objects.filter(pk=lapsed.pk).update(
        authorization_expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert merchant_authorizations_sweep_task.delay().get()["expired"] == 1
