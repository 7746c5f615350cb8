"""Issue 14 on the merchant's return from Aliseeks: the landing request calls no provider. It
uses the one-time state up, records that the merchant came back, queues the confirmation and
shows "Confirming your authorization with Aliseeks…", refreshing itself to a status URL that
shows only this authorization's outcome. The worker's run makes the outcome appear there.

``queued`` stands for a worker that has not run yet (the task's ``delay`` records the call);
the test then runs the task as the worker would. Provider HTTP is at the wire (``responses``:
the sandbox behind it; the calls are counted).
"""

from __future__ import annotations

import re

import pytest
import responses
from django.core import signing

from merchants import landing as landing_services
from merchants import tasks
from merchants.models import AuthorizationRequest

from . import test_aliseeks_authorization as base
from .test_aliseeks_authorization import SANDBOX, _link, _path, _through_provider

account, pending, sandbox = base.account, base.pending, base.sandbox
pytestmark = pytest.mark.django_db
ORDERS = SANDBOX + "v1/orders"


@pytest.fixture
def queued(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.merchant_authorization_confirm_task, "delay",
                        lambda *a: calls.append(a))
    return calls


def _status_url(html: str) -> str:
    found = re.search(r'<meta http-equiv="refresh" content="2;url=([^"]+)">', html)
    assert found, html
    return found.group(1)


def test_landing_calls_no_provider_queues_once_and_the_worker_shows_the_outcome(
        client, sandbox, pending, queued):
    landing = _through_provider(client, _link(pending))
    calls = len(sandbox.calls)

    page = client.get(_path(landing))

    assert len(sandbox.calls) == calls  # no provider HTTP in the request
    assert page.status_code == 200
    html = page.content.decode()
    assert "Confirming your authorization with Aliseeks" in html
    status_url = _status_url(html)
    assert status_url.startswith("/merchants/authorization/status/")
    state = _path(landing).rstrip("/").rsplit("/", 1)[1]
    assert state not in status_url  # the landing state is not handed on
    request = AuthorizationRequest.objects.get(merchant=pending)
    assert request.status == "returned"
    assert queued == [(request.pk,)]
    assert pending.events.filter(kind="authorization_returned").count() == 1

    # the next poll, before the worker ran: still confirming, still no provider call
    poll = client.get(status_url)
    assert poll.status_code == 200 and b"Confirming your authorization" in poll.content
    assert len(sandbox.calls) == calls and len(queued) == 1

    tasks.merchant_authorization_confirm_task(*queued[0])  # the worker
    assert len(sandbox.calls) == calls + 1  # one harmless read

    done = client.get(status_url)
    assert done.status_code == 200
    text = done.content.decode()
    assert "You're connected: Pending shop is authorized" in text
    assert 'http-equiv="refresh"' not in text  # done: no more refreshing
    pending.refresh_from_db()
    assert pending.auth_state == "authorized"
    assert "confirmed by Aliseeks" in pending.events.get(kind="authorized").message
    # a second run of the task (a redelivered message) changes nothing, asks nothing
    tasks.merchant_authorization_confirm_task(*queued[0])
    assert len(sandbox.calls) == calls + 1
    assert pending.events.filter(kind="authorized").count() == 1


def test_replayed_callback_queues_nothing_and_registers_nothing(client, sandbox, pending,
                                                               queued):
    landing = _through_provider(client, _link(pending))
    assert client.get(_path(landing)).status_code == 200
    calls = len(sandbox.calls)
    for _ in range(2):
        again = client.get(_path(landing))
        assert again.status_code == 410 and b"already used" in again.content
    assert len(queued) == 1 and len(sandbox.calls) == calls
    assert pending.events.filter(kind="authorization_returned").count() == 1
    tasks.merchant_authorization_confirm_task(*queued[0])
    assert client.get(_path(landing)).status_code == 410
    assert len(queued) == 1
    assert pending.events.filter(kind="authorized").count() == 1
    assert [c.request.method for c in sandbox.calls if c.request.url.endswith(
        "/v1/merchants")] == ["POST"]  # registered once


def test_provider_refusal_shows_a_readable_reason_and_what_to_do(client, sandbox, pending,
                                                                  queued):
    landing = _through_provider(client, _link(pending))
    status_url = _status_url(client.get(_path(landing)).content.decode())
    sandbox.remove(responses.GET, ORDERS)
    sandbox.add(responses.GET, ORDERS, status=403, json=[
        {"code": "Forbidden", "field": "", "violation": "No API access for ak_sandbox_key_777"}])
    tasks.merchant_authorization_confirm_task(*queued[0])

    page = client.get(status_url)

    text = page.content.decode()
    assert "Authorization not confirmed" in text and "did not confirm" in text
    assert "ask your operator for a new link" in text
    assert "ak_sandbox_key_777" not in text and "Try again" not in text
    pending.refresh_from_db()
    assert pending.auth_state == "pending"
    assert AuthorizationRequest.objects.get(merchant=pending).status == "failed"


def test_provider_error_on_the_callback_queues_nothing(client, sandbox, pending, queued):
    landing = _through_provider(client, _link(pending))
    calls = len(sandbox.calls)
    page = client.get(_path(landing) + "?error=server_error")
    assert b"did not go through" in page.content and b"server_error" in page.content
    assert queued == [] and len(sandbox.calls) == calls


def test_status_url_names_one_authorization_and_cannot_be_forged(client, sandbox, pending,
                                                                 queued):
    landing = _through_provider(client, _link(pending))
    status_url = _status_url(client.get(_path(landing)).content.decode())
    token = status_url.rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert client.get(f"/merchants/authorization/status/{tampered}/").status_code == 400
    # the landing state, or a correctly signed guess, is not a status token
    state = _path(landing).rstrip("/").rsplit("/", 1)[1]
    assert client.get(f"/merchants/authorization/status/{state}/").status_code == 400
    guess = signing.dumps("0" * 64, salt=landing_services.STATUS_SALT)
    assert client.get(f"/merchants/authorization/status/{guess}/").status_code == 400
    # a link not yet used at the provider has no status page
    other = base.MerchantFactory(account=pending.account, external_id="", authorized=False,
                                 name="Other shop")
    _link(other)
    fresh = AuthorizationRequest.objects.get(merchant=other)
    not_back = signing.dumps(fresh.token_hash, salt=landing_services.STATUS_SALT)
    assert client.get(f"/merchants/authorization/status/{not_back}/").status_code == 400
    # the page names only its own merchant
    assert b"Other shop" not in client.get(status_url).content
    assert len(queued) == 1


def test_a_lost_confirmation_is_queued_again_by_the_next_poll(client, sandbox, pending, queued):
    from django.core.cache import cache

    landing = _through_provider(client, _link(pending))
    status_url = _status_url(client.get(_path(landing)).content.decode())
    request = AuthorizationRequest.objects.get(merchant=pending)
    cache.delete(tasks.authorization_confirm_key(request.pk) + ":pending")  # the marker lapsed
    assert b"Confirming" in client.get(status_url).content
    assert queued == [(request.pk,), (request.pk,)]
    assert b"Confirming" in client.get(status_url).content
    assert len(queued) == 2  # queued again once, not on every poll
