"""Issue 14 on the merchants' admin pages: "Check credentials", "Send authorization link"
and the Brandsdistribution reservation actions queue the provider call for the worker; the
page says so in plain words ("Checking credentials…"), polls (htmx), then shows the result.

``queued`` stands for a worker that has not run yet; the test runs the task as the worker
would. Provider HTTP is mocked at the wire (``mocked``: an unregistered call fails).
"""

from __future__ import annotations

import re
import secrets

import pytest
import requests
import responses
from django.urls import reverse

from merchants import tasks
from providers.docsamples import sample_json
from tests.factories import AccountFactory, MerchantFactory

pytestmark = pytest.mark.django_db
TIPSER = "https://tipser.example.test"
ALISEEKS = "https://aliseeks.example.test/"


@pytest.fixture
def queued(monkeypatch):
    calls: list[tuple[str, tuple]] = []
    for name in ("account_check_task", "account_reservation_read_task",
                 "account_reservation_release_task", "merchant_authorization_link_task"):
        monkeypatch.setattr(getattr(tasks, name), "delay",
                            lambda *a, _n=name: calls.append((_n, a)))
    return calls


@pytest.fixture
def tipser(db):
    canary = f"CANARYapikey{secrets.token_hex(6)}"
    account = AccountFactory(provider="tipser", name="Tipser EU", base_url=TIPSER,
                             credentials={"api_key": canary})
    account.canary = canary
    return account


def _page(client, account) -> str:
    return client.get(reverse("admin:merchants_provideraccount_change",
                              args=[account.pk])).content.decode()


# --- credentials check -----------------------------------------------------------------------
def test_check_button_queues_and_the_page_polls_then_shows_the_result(admin_client, tipser,
                                                                      mocked, queued):
    check_url = reverse("admin:merchants_provideraccount_check", args=[tipser.pk])
    status_url = reverse("admin:merchants_provideraccount_check_status", args=[tipser.pk])
    response = admin_client.post(check_url)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:merchants_provideraccount_change",
                                           args=[tipser.pk])
    assert len(mocked.calls) == 0 and queued == [("account_check_task", (tipser.pk,))]
    html = _page(admin_client, tipser)
    assert "Checking credentials with Tipser" in html and "this page updates by itself" in html
    assert f'hx-get="{status_url}"' in html and 'hx-trigger="every 2s"' in html
    mocked.add(responses.GET, re.compile(rf"{TIPSER}/.*"),
               json=sample_json("tipser", "order_list.json"))
    tasks.account_check_task(tipser.pk)  # the worker
    fragment = admin_client.get(status_url).content.decode()
    assert "Credentials work for Tipser EU: apiKey accepted" in fragment
    assert "hx-get" not in fragment  # done: the polling stops
    assert "Credentials work for Tipser EU: apiKey accepted" in _page(admin_client, tipser)
    assert len(mocked.calls) == 1


def test_unreachable_provider_shows_a_readable_failure_without_the_key(admin_client, tipser,
                                                                       mocked):
    mocked.add(responses.GET, re.compile(rf"{TIPSER}/.*"),
               body=requests.exceptions.ConnectionError(
                   f"Max retries exceeded with url: {TIPSER}/orders?apiKey={tipser.canary}"))
    check_url = reverse("admin:merchants_provideraccount_check", args=[tipser.pk])
    html = admin_client.post(check_url, follow=True).content.decode()  # eager: ran at once
    assert "Credentials check failed for Tipser EU: The provider could not be reached" in html
    assert "CANARY" not in html and "Max retries" not in html


def test_status_fragment_is_a_read_for_viewers_and_refuses_post(client, readonly_user, tipser,
                                                                queued):
    client.force_login(readonly_user)
    status_url = reverse("admin:merchants_provideraccount_check_status", args=[tipser.pk])
    assert client.get(status_url).status_code == 200
    assert client.post(status_url).status_code == 405
    assert queued == []


# --- authorization link ----------------------------------------------------------------------
@pytest.fixture
def aliseeks_merchant(db):
    account = AccountFactory(provider="aliseeks", base_url=ALISEEKS,
                             credentials={"api_key": "ak_live_secret_9"})
    return MerchantFactory(account=account, name="Pending shop", external_id="",
                           authorized=False)


def test_link_button_queues_then_the_page_shows_creating_then_the_link(
        operator_client, aliseeks_merchant, mocked, queued):
    merchant = aliseeks_merchant
    change = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    status_url = reverse("admin:merchants_merchant_authorization_link_status",
                         args=[merchant.pk])
    response = operator_client.post(reverse("admin:merchants_merchant_authorization_link",
                                            args=[merchant.pk]))
    assert response.status_code == 302 and response["Location"] == change
    assert len(mocked.calls) == 0
    html = operator_client.get(change).content.decode()
    assert "Creating the authorization link at the provider" in html
    assert f'hx-get="{status_url}"' in html and 'hx-trigger="every 2s"' in html
    mocked.add(responses.POST, f"{ALISEEKS}v1/merchants",
               json={"merchantId": "M-42", "redirectUrl": "https://aliseeks.test/one-time/xyz"})
    (_name, args), = queued
    tasks.merchant_authorization_link_task(*args)  # the worker
    fragment = operator_client.get(status_url).content.decode()
    assert "Authorization link for Pending shop (send it to the merchant; valid until" in fragment
    link = re.search(r'<a href="([^"]+)" class="dd-auth-link">', fragment).group(1)
    assert link.startswith("http://testserver/merchants/") and "hx-get" not in fragment
    # the timeline keeps the event, with the operator who asked
    html = operator_client.get(change).content.decode()
    assert "Authorization link created (Merchant ID M-42)" in html


def test_link_refused_by_the_provider_is_said_in_plain_words(operator_client,
                                                             aliseeks_merchant, mocked):
    mocked.add(responses.POST, f"{ALISEEKS}v1/merchants", status=403,
               json={"message": "no merchants for ak_live_secret_9"})
    html = operator_client.post(reverse("admin:merchants_merchant_authorization_link",
                                        args=[aliseeks_merchant.pk]), follow=True
                                ).content.decode()
    assert "Could not create the link: Aliseeks refused to register the merchant" in html
    assert "ak_live_secret_9" not in html


def test_link_status_is_for_who_may_create_links(client, readonly_user, aliseeks_merchant):
    client.force_login(readonly_user)
    url = reverse("admin:merchants_merchant_authorization_link_status",
                  args=[aliseeks_merchant.pk])
    assert client.get(url).status_code == 403


# --- Brandsdistribution reservation ---------------------------------------------------------
RES_URL = "admin:brandsdistribution_accountreservation_changelist"


def test_release_is_queued_and_the_list_says_releasing_then_the_outcome(admin_client, mocked,
                                                                         queued):
    from tests.providers.brandsdistribution.helpers import LOCKED, RESERVE, fixture, make_order

    account = make_order().merchant.account
    url = reverse(RES_URL)
    html = admin_client.post(url, {"action": "release_reservation",
                                   "_selected_action": [account.pk]}, follow=True
                             ).content.decode()
    assert len(mocked.calls) == 0
    assert queued == [("account_reservation_release_task", (account.pk,))]
    assert "Releasing the reservation at Brandsdistribution…" in html
    assert f'hx-get="{url}"' in html and f'hx-select="#dd-res-{account.pk}"' in html
    empty = b'{"models": [], "order_id": 0}'
    mocked.add(responses.GET, LOCKED, body=fixture("reservation.json"))
    mocked.add(responses.POST, RESERVE, body=empty)
    mocked.add(responses.GET, LOCKED, body=empty)
    tasks.account_reservation_release_task(account.pk)  # the worker
    html = admin_client.get(url).content.decode()
    assert "Last release: Released 2 x 1578." in html and "Releasing" not in html


def test_read_is_queued_and_the_list_says_reading(admin_client, mocked, queued):
    from tests.providers.brandsdistribution.helpers import make_order

    account = make_order().merchant.account
    html = admin_client.post(reverse(RES_URL), {"action": "read_reservation",
                                                "_selected_action": [account.pk]},
                             follow=True).content.decode()
    assert len(mocked.calls) == 0
    assert "Reading the reservation from Brandsdistribution…" in html


# --- Verify Merchant ID and authorize -------------------------------------------------------
@pytest.fixture
def verify_queued(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.merchant_verify_task, "delay", lambda *a: calls.append(a))
    return calls


def _verify(client, merchant):
    return client.post(reverse("admin:merchants_merchant_changelist"), {
        "action": "verify_merchant_id", "_selected_action": [merchant.pk]}, follow=True)


def test_verify_action_queues_then_the_page_shows_verifying_then_the_outcome(
        operator_client, aliseeks_merchant, mocked, verify_queued):
    merchant = aliseeks_merchant
    merchant.external_id = "ConsoleId7"
    merchant.save(update_fields=["external_id"])
    change = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    status_url = reverse("admin:merchants_merchant_verify_status", args=[merchant.pk])
    text = _verify(operator_client, merchant).content.decode()
    assert "Pending shop: verifying the Merchant ID with Aliseeks… <a href='" + change + \
        "'>the merchant's page</a> shows the outcome." in text
    assert len(mocked.calls) == 0 and len(verify_queued) == 1
    html = operator_client.get(change).content.decode()
    assert "Verifying the Merchant ID with Aliseeks… this page updates by itself" in html
    assert f'hx-get="{status_url}"' in html and 'hx-trigger="every 2s"' in html
    merchant.refresh_from_db()
    assert merchant.auth_state == "pending"
    # asking again while it runs queues nothing more
    _verify(operator_client, merchant)
    assert len(verify_queued) == 1

    mocked.add(responses.GET, f"{ALISEEKS}v1/orders", status=404,
               json=[{"code": "NotFound", "field": "orderId", "violation": "NotFound"}])
    tasks.merchant_verify_task(*verify_queued[0])  # the worker
    assert len(mocked.calls) == 1
    fragment = operator_client.get(status_url).content.decode()
    assert "Merchant ID ConsoleId7 verified with Aliseeks: Pending shop is authorized until" \
        in fragment
    assert "hx-get" not in fragment
    merchant.refresh_from_db()
    assert merchant.auth_state == "authorized"
    html = operator_client.get(change).content.decode()
    assert "Authorized (Merchant ID verified" in html  # the timeline, with the operator
    event = merchant.events.get(kind="authorized")
    assert event.actor is not None and event.actor.username == "operator"


def test_verify_refused_by_the_provider_is_said_in_plain_words(
        operator_client, aliseeks_merchant, mocked, verify_queued):
    merchant = aliseeks_merchant
    merchant.external_id = "Typo1"
    merchant.save(update_fields=["external_id"])
    _verify(operator_client, merchant)
    mocked.add(responses.GET, f"{ALISEEKS}v1/orders", status=403,
               json={"message": "unknown merchant for ak_live_secret_9"})
    tasks.merchant_verify_task(*verify_queued[0])
    html = operator_client.get(reverse("admin:merchants_merchant_change",
                                       args=[merchant.pk])).content.decode()
    assert "Not authorized: Merchant ID Typo1 could not be verified" in html
    assert "ak_live_secret_9" not in html
    merchant.refresh_from_db()
    assert merchant.auth_state == "pending"


def test_verify_without_a_merchant_id_is_refused_at_once(operator_client, aliseeks_merchant,
                                                         mocked, verify_queued):
    text = _verify(operator_client, aliseeks_merchant).content.decode()
    assert "Enter the Merchant ID shown on the provider" in text
    assert verify_queued == [] and len(mocked.calls) == 0


def test_verify_status_is_a_read_and_refuses_post(client, readonly_user, aliseeks_merchant,
                                                  verify_queued):
    client.force_login(readonly_user)
    url = reverse("admin:merchants_merchant_verify_status", args=[aliseeks_merchant.pk])
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 405
    assert verify_queued == []
