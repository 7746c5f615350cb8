"""The Aliseeks merchant authorization round trip through our pages and the sandbox.

The provider call (POST /v1/merchants, GET /v1/orders) is mocked at the wire with
``responses``; the mock hands the request to the sandbox views through the Django test
client, so the whole path — our link, our connect page, the provider's authorization page,
our landing page — runs for real.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

import pytest
import responses
from django.core import signing
from django.utils import timezone

from merchants import services
from merchants.models import AuthorizationRequest, Merchant
from providers.aliseeks.models import SandboxMerchant
from tests.factories import AccountFactory, MerchantFactory

pytestmark = pytest.mark.django_db
SANDBOX = "http://testserver/sandbox/aliseeks/"
API_KEY = "ak_sandbox_key_777"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _forward(client):
    """A responses callback answering with the sandbox view (the fake provider server)."""

    def callback(request):
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-")}
        body = request.body or b""
        reply = client.generic(request.method, _path(request.url),
                               data=body if isinstance(body, bytes) else body.encode(),
                               content_type="application/json", headers=headers)
        return reply.status_code, {"Content-Type": reply["Content-Type"]}, reply.content

    return callback


@pytest.fixture
def sandbox(mocked, client):
    for method in (responses.POST, responses.GET):
        for path in ("v1/merchants", "v1/orders"):
            mocked.add_callback(method, SANDBOX + path, callback=_forward(client))
    return mocked


@pytest.fixture
def account(db):
    return AccountFactory(provider="aliseeks", base_url=SANDBOX, credentials={"api_key": API_KEY})


@pytest.fixture
def pending(account):
    return MerchantFactory(account=account, external_id="", authorized=False, name="Pending shop")


def _link(merchant, operator=None):
    return services.merchant_authorization_link_create(
        merchant=merchant, actor=operator, base_url="http://testserver")


def _return_url(mocked) -> str:
    calls = [c for c in mocked.calls if c.request.url.endswith("/v1/merchants")]
    return json.loads(calls[-1].request.body)["redirectUrl"]


def _through_provider(client, link, decision="allow"):
    """Connect page → provider page → decision; returns the provider's redirect back."""
    start = client.post(_path(link))
    assert start.status_code == 302
    provider_page = client.get(_path(start["Location"]))
    assert provider_page.status_code == 200
    back = client.post(_path(start["Location"]), {"decision": decision})
    assert back.status_code == 302
    return back["Location"]


# --- the round trip --------------------------------------------------------------------------
def test_full_round_trip_authorizes_the_merchant_for_a_month(client, sandbox, pending, operator):
    link = _link(pending, operator)
    pending.refresh_from_db()
    assert link.startswith("http://testserver/merchants/connect/")
    assert pending.external_id  # the provider's merchantId is stored at once
    register = sandbox.calls[0].request
    assert register.method == "POST" and register.url == SANDBOX + "v1/merchants"
    assert register.headers["X-Api-Client-Id"] == API_KEY
    body = json.loads(register.body)
    assert list(body) == ["redirectUrl"]
    assert body["redirectUrl"].startswith("http://testserver/merchants/authorization/return/")

    page = client.get(_path(link))
    assert page.status_code == 200
    assert b"Continue to Aliseeks" in page.content and b"<form method=\"post\">" in page.content
    assert pending.auth_state == "pending"

    start = client.post(_path(link))
    stored = AuthorizationRequest.objects.get(merchant=pending)
    assert start["Location"] == stored.provider_redirect_url
    assert start["Location"].startswith(SANDBOX + "authorize/")
    back = client.post(_path(start["Location"]), {"decision": "allow"})
    assert back["Location"] == body["redirectUrl"]

    landing = client.get(_path(back["Location"]))
    assert landing.status_code == 200
    assert b"is authorized" in landing.content
    pending.refresh_from_db()
    assert pending.auth_state == "authorized"
    expected = timezone.now() + dt.timedelta(days=30)
    assert abs((pending.authorization_expires_at - expected).total_seconds()) < 60
    assert pending.events.filter(kind="authorized").exists()
    assert pending.events.filter(kind="authorization_link", actor=operator).exists()
    assert SandboxMerchant.objects.get(merchant_id=pending.external_id).authorized
    stored.refresh_from_db()
    assert stored.status == "completed"


def test_reauthorization_sends_the_existing_merchant_id_and_keeps_it(client, sandbox, account):
    SandboxMerchant.objects.create(merchant_id="KeepMe123", authorized=True)
    merchant = MerchantFactory(account=account, external_id="KeepMe123")
    Merchant.objects.filter(pk=merchant.pk).update(auth_state="expired")
    link = _link(merchant)
    assert json.loads(sandbox.calls[0].request.body)["merchantId"] == "KeepMe123"
    landing = _through_provider(client, link)
    assert client.get(_path(landing)).status_code == 200
    merchant.refresh_from_db()
    assert merchant.auth_state == "authorized" and merchant.external_id == "KeepMe123"


def test_the_authorized_merchant_can_then_order_through_the_sandbox(client, sandbox, pending):
    from orders import services as order_services
    from tests.factories import OrderFactory, OrderItemFactory

    client.get(_path(_through_provider(client, _link(pending))))
    pending.refresh_from_db()
    order = OrderFactory(merchant=pending, country="US", region="TX",
                         provider_options={"shipping_service": "CAINIAO_STANDARD"})
    OrderItemFactory(order=order, product_id="32690828906", quantity=2,
                     variant=["14:29#clear"])
    OrderItemFactory(order=order, product_id="32602496787", quantity=1)
    order_services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed" and len(order.external_ids) == 2  # split by store
    order_services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "placed" and order.raw_status == "place_order_success"
    for sandbox_order in order.external_ids:  # the control button, three times
        for _ in range(3):
            client.post(f"/sandbox/aliseeks/control/orders/{sandbox_order}/advance/")
    order_services.order_sync(order=order)
    order_services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "completed"
    assert order.shipments.count() == 2  # one per sub-order, nothing twice


# --- cancellation and failure ----------------------------------------------------------------
def test_cancel_on_the_provider_page_shows_cancelled_and_changes_nothing(client, sandbox, pending):
    landing = _through_provider(client, _link(pending), decision="cancel")
    assert "error=access_denied" in landing
    page = client.get(_path(landing))
    assert page.status_code == 200 and b"Authorization cancelled" in page.content
    pending.refresh_from_db()
    assert pending.auth_state == "pending"
    assert AuthorizationRequest.objects.get(merchant=pending).status == "cancelled"
    # the cancelled link cannot be turned into a success afterwards
    success = _path(landing).split("?")[0]
    assert client.get(success).status_code == 410
    pending.refresh_from_db()
    assert pending.auth_state == "pending"


def test_provider_failure_shows_its_own_page_and_changes_nothing(client, sandbox, pending):
    landing = _through_provider(client, _link(pending))
    page = client.get(_path(landing) + "?error=server_error")
    assert page.status_code == 200 and b"did not go through" in page.content
    assert b"server_error" in page.content
    pending.refresh_from_db()
    assert pending.auth_state == "pending"
    assert pending.events.filter(kind="authorization_failed").exists()


def test_not_whitelisted_account_gets_a_clear_message_pointing_to_the_manual_path(
    sandbox, account, pending
):
    account.credentials = {"api_key": "key-not-whitelisted"}
    account.save()
    with pytest.raises(services.MerchantAuthorizationError) as err:
        _link(pending)
    assert "not whitelisted" in err.value.message
    assert "Verify Merchant ID" in err.value.message
    pending.refresh_from_db()
    assert pending.auth_state == "pending" and pending.external_id == ""
    assert AuthorizationRequest.objects.get(merchant=pending).status == "failed"


def test_malformed_registration_reply_is_refused(mocked, pending):
    mocked.add(responses.POST, SANDBOX + "v1/merchants",
               json={"merchantId": "abc", "redirectUrl": "javascript:alert(1)"})
    with pytest.raises(services.MerchantAuthorizationError):
        _link(pending)
    pending.refresh_from_db()
    assert pending.external_id == ""


# --- replay, forgery, expiry, open redirect --------------------------------------------------
def test_replayed_link_and_landing_are_refused(client, sandbox, pending):
    link = _link(pending)
    landing = _through_provider(client, link)
    assert client.get(_path(landing)).status_code == 200
    first_expiry = Merchant.objects.get(pk=pending.pk).authorization_expires_at
    again = client.get(_path(landing))
    assert again.status_code == 410 and b"already used" in again.content
    assert client.get(_path(link)).status_code == 410
    assert client.post(_path(link)).status_code == 410
    assert Merchant.objects.get(pk=pending.pk).authorization_expires_at == first_expiry
    assert pending.events.filter(kind="authorized").count() == 1


def test_connect_link_can_start_only_once(client, sandbox, pending):
    link = _link(pending)
    assert client.post(_path(link)).status_code == 302
    second = client.post(_path(link))
    assert second.status_code == 410 and "Location" not in second


def test_tampered_and_forged_states_are_refused(client, sandbox, pending):
    link = _link(pending)
    landing = _return_url(sandbox)
    state = _path(link).rstrip("/").rsplit("/", 1)[1]
    tampered = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    assert client.get(f"/merchants/connect/{tampered}/").status_code == 400
    # a connect state used as a landing state (different salt) is not accepted
    assert client.get(f"/merchants/authorization/return/{state}/").status_code == 400
    # a correctly signed token that no link was made for
    forged = signing.dumps("guessed-token", salt=services.RETURN_SALT)
    assert client.get(f"/merchants/authorization/return/{forged}/").status_code == 400
    # the real landing URL, but before the merchant went through the provider
    direct = client.get(_path(landing))
    assert direct.status_code == 400 and b"not valid" in direct.content
    pending.refresh_from_db()
    assert pending.auth_state == "pending"
    # the link itself still works afterwards
    assert client.get(_path(link)).status_code == 200


def test_expired_link_shows_expired_and_changes_nothing(client, sandbox, pending):
    link = _link(pending)
    AuthorizationRequest.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    page = client.get(_path(link))
    assert page.status_code == 410 and b"expired" in page.content
    assert client.post(_path(link)).status_code == 410
    pending.refresh_from_db()
    assert pending.auth_state == "pending"


def test_landing_after_the_link_expired_changes_nothing(client, sandbox, pending):
    landing = _through_provider(client, _link(pending))
    AuthorizationRequest.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    page = client.get(_path(landing))
    assert page.status_code == 410 and b"expired" in page.content
    pending.refresh_from_db()
    assert pending.auth_state == "pending"


def test_old_signature_is_refused_as_expired(client, sandbox, pending):
    link = _link(pending)
    later = timezone.now() + dt.timedelta(days=5)
    import time as time_module

    real = time_module.time
    time_module.time = lambda: later.timestamp()
    try:
        page = client.get(_path(link))
    finally:
        time_module.time = real
    assert page.status_code == 410


@pytest.mark.parametrize("query", ["?next=https://evil.example/",
                                   "?redirect_uri=https://evil.example/&url=//evil.example"])
def test_query_strings_cannot_redirect_anywhere_else(client, sandbox, pending, query):
    link = _link(pending)
    assert "Location" not in client.get(_path(link) + query)
    start = client.post(_path(link) + query)
    stored = AuthorizationRequest.objects.get(merchant=pending).provider_redirect_url
    assert start["Location"] == stored
    back = client.post(_path(start["Location"]), {"decision": "allow"})
    landing = client.get(_path(back["Location"]) + query)
    assert landing.status_code == 200 and "Location" not in landing
    assert b"evil.example" not in landing.content


def test_pages_ask_browsers_not_to_leak_the_state(client, sandbox, pending):
    link = _link(pending)
    page = client.get(_path(link))
    # only our own origin may see the URL (its form posts back to us, see the next test)
    assert page["Referrer-Policy"] == "same-origin"
    assert "no-cache" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    start = client.post(_path(link))
    assert start["Referrer-Policy"] == "no-referrer"  # the hop to the provider
    landing = client.get(_path(client.post(_path(start["Location"]),
                                           {"decision": "allow"})["Location"]))
    assert landing.status_code == 200 and landing["Referrer-Policy"] == "no-referrer"


def test_connect_form_passes_the_csrf_check_a_browser_makes(sandbox, pending):
    """Regression: under "no-referrer" a browser posts the form with `Origin: null` and the
    CSRF check refused it (403). The page now lets the browser send its real origin."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    link = _link(pending)
    page = browser.get(_path(link))
    assert page["Referrer-Policy"] not in ("no-referrer", "")
    token = browser.cookies["csrftoken"].value
    start = browser.post(_path(link), {"csrfmiddlewaretoken": token},
                         HTTP_ORIGIN="http://testserver")
    assert start.status_code == 302
    assert start["Location"] == AuthorizationRequest.objects.get(
        merchant=pending).provider_redirect_url


# --- manual Merchant ID (single merchant per account) ----------------------------------------
def test_manual_merchant_id_is_checked_with_a_harmless_read_then_authorized(
    sandbox, pending, operator
):
    SandboxMerchant.objects.create(merchant_id="ConsoleId42", authorized=True)
    merchant = services.merchant_verify_manual(merchant=pending, external_id="ConsoleId42",
                                               actor=operator)
    probe = sandbox.calls[0].request
    assert probe.method == "GET"
    assert probe.url == SANDBOX + "v1/orders?merchantId=ConsoleId42&orderId=0"
    assert probe.headers["X-Api-Client-Id"] == API_KEY
    assert merchant.auth_state == "authorized" and merchant.external_id == "ConsoleId42"
    assert merchant.events.filter(kind="authorized", actor=operator).exists()


def test_manual_merchant_id_the_provider_does_not_know_is_refused(sandbox, pending):
    with pytest.raises(services.MerchantAuthorizationError) as err:
        services.merchant_verify_manual(merchant=pending, external_id="Typo")
    assert "merchantId" in err.value.message
    pending.refresh_from_db()
    assert pending.auth_state == "pending" and pending.external_id == ""


def test_manual_check_403_is_refused(mocked, pending):
    mocked.add(responses.GET, SANDBOX + "v1/orders", status=403, json=[])
    with pytest.raises(services.MerchantAuthorizationError):
        services.merchant_verify_manual(merchant=pending, external_id="Abc")
    pending.refresh_from_db()
    assert pending.auth_state == "pending"


def test_manual_merchant_id_already_used_by_another_merchant_is_refused_without_a_call(
    mocked, account, pending
):
    MerchantFactory(account=account, external_id="Shared1")
    with pytest.raises(services.MerchantAuthorizationError) as err:
        services.merchant_verify_manual(merchant=pending, external_id="Shared1")
    assert "already belongs" in err.value.message
    assert len(mocked.calls) == 0


def test_sweep_is_scheduled_with_celery_beat():
    from django_celery_beat.models import PeriodicTask

    from orders.management.commands.setup_schedules import setup_schedules

    setup_schedules()
    assert PeriodicTask.objects.filter(
        task="merchants.tasks.merchant_authorizations_sweep_task", enabled=True).count() == 1


def test_a_newer_link_replaces_the_older_unused_one(client, sandbox, pending):
    old = _link(pending)
    new = _link(pending)
    assert client.get(_path(old)).status_code == 410
    assert client.get(_path(new)).status_code == 200


def test_registration_timeout_says_try_again_and_changes_nothing(mocked, pending):
    import requests

    mocked.add(responses.POST, SANDBOX + "v1/merchants",
               body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(services.MerchantAuthorizationError) as err:
        _link(pending)
    assert "try again later" in err.value.message
    pending.refresh_from_db()
    assert pending.external_id == "" and pending.auth_state == "pending"
    assert pending.events.filter(kind="authorization_link_failed").exists()


@pytest.mark.parametrize(("status", "body", "accepted"), [
    (404, [{"code": "NotFound", "field": "orderId", "violation": "not found"}], True),
    (422, [{"code": "NotFound", "field": "orderId", "violation": "not found"}], True),
    (404, "Not Found", True),
    (404, [{"code": "NotFound", "field": "merchantId", "violation": "not found"}], False),
    (404, "merchant not found", False),
    (422, [{"code": "NotNull", "field": "", "violation": "bad"}], False),
    (200, {"id": "0", "status": "x"}, True),
])
def test_manual_check_reads_which_field_the_provider_refused(mocked, pending, status, body,
                                                            accepted):
    kwargs = {"json": body} if not isinstance(body, str) else {"body": body}
    mocked.add(responses.GET, SANDBOX + "v1/orders", status=status, **kwargs)
    if accepted:
        services.merchant_verify_manual(merchant=pending, external_id="Abc")
        pending.refresh_from_db()
        assert pending.auth_state == "authorized"
    else:
        with pytest.raises(services.MerchantAuthorizationError):
            services.merchant_verify_manual(merchant=pending, external_id="Abc")
        pending.refresh_from_db()
        assert pending.auth_state == "pending"
