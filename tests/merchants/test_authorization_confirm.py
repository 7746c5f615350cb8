"""The Aliseeks return landing confirms the authorization with the provider before marking the
merchant authorized (issue 21, finding 11). Provider HTTP mocked at the wire with
``responses`` (the sandbox views answer through the test client)."""

from __future__ import annotations

import re

import pytest
import requests
import responses
from django.urls import reverse

from merchants.models import AuthorizationRequest
from providers.aliseeks.models import SandboxMerchant

from . import test_aliseeks_authorization as base
from .test_aliseeks_authorization import (
    SANDBOX,
    _forward,
    _link,
    _path,
    _return_url,
    _through_provider,
)

# the round-trip tests' fixtures (the sandbox behind the wire, a pending Aliseeks merchant)
account, pending, sandbox = base.account, base.pending, base.sandbox

pytestmark = pytest.mark.django_db
ORDERS = SANDBOX + "v1/orders"


def _probes(mocked):
    return [c.request for c in mocked.calls
            if c.request.method == "GET" and c.request.url.startswith(ORDERS)]


def test_landing_without_the_merchant_allowing_is_not_trusted(client, sandbox, pending):
    """The merchant went to the provider, did not allow, and opened our landing URL without
    ``?error`` (it is in the registration we made): the provider is asked, says the merchant
    has not authorized, and nothing is authorized."""
    link = _link(pending)
    assert client.post(_path(link)).status_code == 302  # sent to the provider
    landing = _return_url(sandbox)

    page = client.get(_path(landing))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Authorization not confirmed" in html and "not authorized" in html
    pending.refresh_from_db()
    assert pending.auth_state == "pending"
    assert not pending.events.filter(kind="authorized").exists()
    request = AuthorizationRequest.objects.get(merchant=pending)
    assert request.status == "failed" and "did not confirm" in request.failure_reason
    probe = _probes(sandbox)[-1]
    assert f"merchantId={pending.external_id}" in probe.url
    assert client.get(_path(landing)).status_code == 410  # used up


def test_allowed_authorization_is_confirmed_with_one_harmless_read(client, sandbox, pending):
    landing = _through_provider(client, _link(pending))
    before = len(_probes(sandbox))
    page = client.get(_path(landing))
    assert page.status_code == 200 and b"is authorized" in page.content
    assert len(_probes(sandbox)) == before + 1  # one GET, no write
    assert [c.request.method for c in sandbox.calls if "/v1/" in c.request.url].count(
        "POST") == 1  # the registration only
    pending.refresh_from_db()
    assert pending.auth_state == "authorized"
    assert "confirmed by Aliseeks" in pending.events.get(kind="authorized").message


def test_provider_down_at_confirmation_says_so_and_can_be_retried(client, sandbox, pending,
                                                                   admin_client):
    landing = _through_provider(client, _link(pending))
    sandbox.remove(responses.GET, ORDERS)
    sandbox.add(responses.GET, ORDERS, body=requests.exceptions.ConnectionError("refused"))

    page = client.get(_path(landing))  # eager Celery: the worker already ran

    assert page.status_code == 503
    html = page.content.decode()
    assert "could not reach Aliseeks" in html and "not authorized yet" in html
    assert "The provider did not answer this time." in html and "refused" not in html
    pending.refresh_from_db()
    assert pending.auth_state == "pending"
    request = AuthorizationRequest.objects.get(merchant=pending)
    assert request.status == "returned" and "Could not confirm" in request.failure_reason
    # the operator sees why on the merchant's page
    admin_page = admin_client.get(reverse("admin:merchants_merchant_change",
                                          args=[pending.pk])).content.decode()
    assert "Could not confirm the authorization with Aliseeks" in admin_page
    assert "not authorized yet" in admin_page
    assert "The merchant came back from Aliseeks; confirming the authorization" in admin_page

    # the provider is back: the page's "Try again" (a POST to its status URL) confirms
    status_url = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    assert status_url.startswith("/merchants/authorization/status/")
    sandbox.remove(responses.GET, ORDERS)
    sandbox.add_callback(responses.GET, ORDERS, callback=_forward(client))
    again = client.post(status_url)
    assert again.status_code == 303 and again["Location"] == status_url
    done = client.get(status_url)
    assert done.status_code == 200 and b"You're connected" in done.content
    pending.refresh_from_db()
    assert pending.auth_state == "authorized"
    assert pending.events.filter(kind="authorized").count() == 1
    # trying again once done changes nothing and asks the provider nothing
    probes = len(_probes(sandbox))
    assert client.post(status_url).status_code == 303
    assert len(_probes(sandbox)) == probes
    assert pending.events.filter(kind="authorized").count() == 1


def test_provider_refusal_at_landing_leaves_the_merchant_unauthorized(client, sandbox,
                                                                      pending):
    landing = _through_provider(client, _link(pending))
    sandbox.remove(responses.GET, ORDERS)
    sandbox.add(responses.GET, ORDERS, status=403, json=[
        {"code": "Forbidden", "field": "", "violation": "No API access"}])

    page = client.get(_path(landing))

    assert page.status_code == 200 and b"did not confirm" in page.content
    pending.refresh_from_db()
    assert pending.auth_state == "pending"
    assert AuthorizationRequest.objects.get(merchant=pending).status == "failed"
    assert pending.events.filter(kind="authorization_unconfirmed").exists()


def test_revoked_at_the_provider_before_landing_is_not_authorized(client, sandbox, pending):
    landing = _through_provider(client, _link(pending))
    SandboxMerchant.objects.filter(merchant_id=pending.external_id).update(authorized=False)
    page = client.get(_path(landing))
    assert b"not confirmed" in page.content
    pending.refresh_from_db()
    assert pending.auth_state == "pending"
