"""Issue 14 (no provider call inside a web request) and issue 18 (a credentials check is a
result for the caller) on the merchants side: the credentials check, the Aliseeks
authorization link and the Brandsdistribution reservation are queued for the worker.

``queued`` stands for a worker that has not run yet (the tasks' ``delay`` only records);
the test then runs the task itself, as the worker would, and asks the GET route again.
Provider HTTP is mocked at the wire (``mocked``: an unregistered call fails the test).
"""

from __future__ import annotations

import re
import secrets

import pytest
import requests
import responses
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from merchants import tasks
from merchants.models import AuthorizationRequest
from providers.docsamples import sample_json
from tests.factories import AccountFactory, MerchantFactory

pytestmark = pytest.mark.django_db
TIPSER = "https://tipser.example.test"


@pytest.fixture
def queued(monkeypatch):
    """The worker has not run: each task's ``delay`` records (name, args)."""
    calls: list[tuple[str, tuple]] = []
    for name in ("account_check_task", "account_reservation_read_task",
                 "account_reservation_release_task", "merchant_authorization_link_task",
                 "merchant_verify_task"):
        task = getattr(tasks, name)
        monkeypatch.setattr(task, "delay", lambda *a, _n=name: calls.append((_n, a)))
    return calls


@pytest.fixture
def tipser(db):
    canary = f"CANARYapikey{secrets.token_hex(6)}"
    account = AccountFactory(provider="tipser", base_url=TIPSER, credentials={"api_key": canary})
    account.canary = canary
    return account


def _pending(response, location: str) -> None:
    assert response.status_code == 202, response.content
    assert response["Location"] == location and response["Retry-After"] == "2"
    assert response.json() == {"status": "pending", "location": location, "retry_after": 2}


# --- credentials check -----------------------------------------------------------------------
def test_check_is_queued_without_a_provider_call_and_the_get_shows_the_workers_result(
        staff_api, tipser, mocked, queued):
    url = f"/api/v1/accounts/{tipser.pk}/check/"
    assert staff_api.get(url).status_code == 404  # never checked
    assert staff_api.get(url).json()["error"]["code"] == "not_found"
    _pending(staff_api.post(url, format="json"), url)
    assert len(mocked.calls) == 0  # the web request asked nothing of the provider
    assert queued == [("account_check_task", (tipser.pk,))]
    _pending(staff_api.post(url, format="json"), url)  # asked again while queued: once
    assert len(queued) == 1
    _pending(staff_api.get(url), url)
    mocked.add(responses.GET, re.compile(rf"{TIPSER}/.*"),
               json=sample_json("tipser", "order_list.json"))  # the doc's own sample
    assert tasks.account_check_task(tipser.pk) is True  # the worker
    assert len(mocked.calls) == 1
    got = staff_api.get(url)
    assert got.status_code == 200
    body = got.json()
    assert body["ok"] is True and body["detail"].startswith("apiKey accepted")
    assert body["reason"] is None
    assert body["checked_at"]
    assert tipser.canary not in got.content.decode()


@pytest.mark.parametrize("fault", ["connect error", "read timeout", "HTTP 401 echo"])
def test_unreachable_or_refusing_provider_is_ok_false_with_a_readable_reason_never_502(
        staff_api, tipser, mocked, fault):
    def reply(request):
        echo = f"url={request.url}"
        if fault == "connect error":
            return 0, {}, requests.exceptions.ConnectionError(
                f"Max retries exceeded with url: {request.url} ({echo})")
        if fault == "read timeout":
            return 0, {}, requests.exceptions.ReadTimeout(f"Read timed out. {echo}")
        return 401, {"Content-Type": "text/plain"}, f"Unauthorized: {echo}"

    mocked.add_callback(responses.GET, re.compile(rf"{TIPSER}/.*"), callback=reply)
    url = f"/api/v1/accounts/{tipser.pk}/check/"
    response = staff_api.post(url, format="json")  # eager: the worker ran at once
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is False
    words = "refused the credentials" if fault == "HTTP 401 echo" else "could not be reached"
    assert words in body["detail"] and body["reason"] == body["detail"]
    for answer in (response, staff_api.get(url)):
        text = answer.content.decode()
        assert tipser.canary not in text and "CANARY" not in text
        assert "Max retries" not in text and TIPSER not in text


def test_a_bug_in_the_check_is_stored_as_a_plain_failure_not_a_stuck_pending(
        staff_api, tipser, monkeypatch, caplog):
    from merchants import services

    def boom(**kwargs):
        raise RuntimeError(f"boom {tipser.canary}")

    monkeypatch.setattr(services, "account_check", boom)
    url = f"/api/v1/accounts/{tipser.pk}/check/"
    response = staff_api.post(url, format="json")
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert "error on our side" in response.json()["detail"]
    assert "boom" not in response.content.decode()
    assert "RuntimeError" in caplog.text  # logged with its traceback


# --- authorization link ---------------------------------------------------------------------
ALISEEKS = "https://aliseeks.example.test/"


@pytest.fixture
def aliseeks_merchant(db):
    account = AccountFactory(provider="aliseeks", base_url=ALISEEKS,
                             credentials={"api_key": "ak_live_secret_9"})
    return MerchantFactory(account=account, external_id="", authorized=False)


def test_link_is_queued_then_appears_where_the_202_points(api, aliseeks_merchant, mocked,
                                                          queued):
    merchant = aliseeks_merchant
    url = f"/api/v1/merchants/{merchant.pk}/authorization-link/"
    assert api.get(url).status_code == 404
    response = api.post(f"/api/v1/merchants/{merchant.pk}/authorize/", {"mode": "link"},
                        format="json")
    _pending(response, url)
    assert len(mocked.calls) == 0 and not AuthorizationRequest.objects.exists()
    (name, args), = queued
    assert name == "merchant_authorization_link_task"
    _pending(api.get(url), url)
    mocked.add(responses.POST, f"{ALISEEKS}v1/merchants",
               json={"merchantId": "M-42", "redirectUrl": "https://aliseeks.test/one-time/xyz"})
    assert tasks.merchant_authorization_link_task(*args) is True  # the worker
    got = api.get(url)
    assert got.status_code == 200, got.content
    body = got.json()
    assert body["created"] is True and body["code"] == ""
    assert body["url"].startswith("http://testserver/merchants/") and body["expires_at"]
    merchant.refresh_from_db()
    assert merchant.external_id == "M-42"
    # the merchant's timeline keeps what happened, with who asked
    event = merchant.events.get(kind="authorization_link")
    assert "M-42" in event.message and event.actor.username == "api-erp"
    # once the merchant followed it, the link is no longer shown
    AuthorizationRequest.objects.filter(merchant=merchant).update(
        status=AuthorizationRequest.Status.REDIRECTED)
    assert api.get(url).status_code == 404


def test_link_refused_by_the_provider_is_a_409_now_or_a_readable_outcome_later(
        api, aliseeks_merchant, mocked, queued):
    merchant = aliseeks_merchant
    mocked.add(responses.POST, f"{ALISEEKS}v1/merchants", status=403,
               json={"message": "forbidden for ak_live_secret_9"})
    api.post(f"/api/v1/merchants/{merchant.pk}/authorize/", {"mode": "link"}, format="json")
    (_name, args), = queued
    tasks.merchant_authorization_link_task(*args)
    got = api.get(f"/api/v1/merchants/{merchant.pk}/authorization-link/")
    assert got.status_code == 200
    body = got.json()
    assert body["created"] is False and body["url"] is None
    assert body["code"] == "provider_refused" and "refused to register" in body["detail"]
    assert "ak_live_secret_9" not in got.content.decode()
    assert merchant.events.filter(kind="authorization_link_failed").exists()


def test_link_refused_at_once_when_the_worker_ran_eagerly(api, aliseeks_merchant, mocked):
    mocked.add(responses.POST, f"{ALISEEKS}v1/merchants", status=403, json={"message": "no"})
    response = api.post(f"/api/v1/merchants/{aliseeks_merchant.pk}/authorize/",
                        {"mode": "link"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "provider_refused"


def test_the_link_is_shown_only_to_who_may_create_it(scoped_api, merchant, readonly_user):
    assert scoped_api.get(f"/api/v1/merchants/{merchant.pk}/authorization-link/"
                          ).status_code == 403
    client = APIClient()
    client.force_login(readonly_user)
    assert client.get(f"/api/v1/merchants/{merchant.pk}/authorization-link/"
                      ).status_code == 403


# --- Merchant ID verification (mode verify) -------------------------------------------------
def test_verify_is_queued_then_its_outcome_appears_where_the_202_points(
        api, aliseeks_merchant, mocked, queued):
    merchant = aliseeks_merchant
    url = f"/api/v1/merchants/{merchant.pk}/verification/"
    assert api.get(url).status_code == 404  # never asked
    response = api.post(f"/api/v1/merchants/{merchant.pk}/authorize/",
                        {"mode": "verify", "external_id": "Console9"}, format="json")
    _pending(response, url)
    assert len(mocked.calls) == 0
    (name, args), = queued
    assert name == "merchant_verify_task"
    _pending(api.get(url), url)
    merchant.refresh_from_db()
    assert merchant.auth_state == "pending"
    mocked.add(responses.GET, f"{ALISEEKS}v1/orders", status=404,
               json=[{"code": "NotFound", "field": "orderId", "violation": "NotFound"}])
    assert tasks.merchant_verify_task(*args) is True  # the worker
    got = api.get(url)
    assert got.status_code == 200, got.content
    body = got.json()
    assert body["ok"] is True and body["code"] == "" and body["authorized_until"]
    assert "Merchant ID Console9 verified with Aliseeks" in body["detail"]
    merchant.refresh_from_db()
    assert merchant.auth_state == "authorized" and merchant.external_id == "Console9"
    assert merchant.events.get(kind="authorized").actor.username == "api-erp"


def test_verify_refused_by_the_provider_is_a_readable_outcome_or_a_409(
        api, aliseeks_merchant, mocked, queued):
    merchant = aliseeks_merchant
    mocked.add(responses.GET, f"{ALISEEKS}v1/orders", status=403,
               json={"message": "unknown merchant for ak_live_secret_9"})
    api.post(f"/api/v1/merchants/{merchant.pk}/authorize/",
             {"mode": "verify", "external_id": "Typo"}, format="json")
    (_name, args), = queued
    tasks.merchant_verify_task(*args)
    got = api.get(f"/api/v1/merchants/{merchant.pk}/verification/")
    assert got.status_code == 200
    body = got.json()
    assert body["ok"] is False and body["code"] == "verify_failed"
    assert "could not be verified" in body["detail"]
    assert "ak_live_secret_9" not in got.content.decode()
    merchant.refresh_from_db()
    assert merchant.auth_state == "pending"


def test_verify_refused_at_once_without_a_provider_call(api, aliseeks_merchant, mocked,
                                                        queued):
    response = api.post(f"/api/v1/merchants/{aliseeks_merchant.pk}/authorize/",
                        {"mode": "verify"}, format="json")  # no Merchant ID stored or given
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "missing"
    assert queued == [] and len(mocked.calls) == 0


def test_verify_eagerly_run_answers_200_or_409(api, aliseeks_merchant, mocked):
    mocked.add(responses.GET, f"{ALISEEKS}v1/orders", status=403, json={"message": "no"})
    refused = api.post(f"/api/v1/merchants/{aliseeks_merchant.pk}/authorize/",
                       {"mode": "verify", "external_id": "Bad1"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "verify_failed"
    mocked.replace(responses.GET, f"{ALISEEKS}v1/orders", status=404,
                   json=[{"code": "NotFound", "field": "orderId", "violation": "NotFound"}])
    done = api.post(f"/api/v1/merchants/{aliseeks_merchant.pk}/authorize/",
                    {"mode": "verify", "external_id": "Good1"}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["merchant"]["auth_state"] == "authorized"


# --- Brandsdistribution reservation ---------------------------------------------------------
@pytest.fixture
def bd(db, django_user_model):
    from tests.providers.brandsdistribution.helpers import make_order

    account = make_order().merchant.account
    user = django_user_model.objects.create_user("res-op", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_accountreservation"))
    client = APIClient()
    client.force_login(user)
    return account, client


def test_reservation_read_is_queued_and_the_get_serves_the_workers_reading(bd, mocked, queued):
    from tests.providers.brandsdistribution.helpers import LOCKED, fixture

    account, client = bd
    url = f"/api/v1/accounts/{account.pk}/reservation/"
    _pending(client.post(url + "read/", format="json"), url)
    _pending(client.get(url), url)  # already queued: not queued twice
    assert queued == [("account_reservation_read_task", (account.pk,))]
    assert len(mocked.calls) == 0
    mocked.add(responses.GET, LOCKED, body=fixture("reservation.json"))
    tasks.account_reservation_read_task(account.pk)
    got = client.get(url)
    assert got.status_code == 200
    assert [(m["stock_id"], m["locked"]) for m in got.json()["models"]] == [("1578", 2)]
    assert got.json()["error"] == ""
    assert len(mocked.calls) == 1  # served from the worker's reading


def test_reservation_release_is_queued_and_its_outcome_appears_at_location(bd, mocked, queued):
    from tests.providers.brandsdistribution.helpers import LOCKED, RESERVE, fixture

    account, client = bd
    url = f"/api/v1/accounts/{account.pk}/reservation/release/"
    assert client.get(url).status_code == 404  # nothing asked yet
    _pending(client.post(url, format="json"), url)
    assert queued == [("account_reservation_release_task", (account.pk,))]
    assert len(mocked.calls) == 0
    _pending(client.get(url), url)
    empty = b'{"models": [], "order_id": 0}'
    mocked.add(responses.GET, LOCKED, body=fixture("reservation.json"))
    mocked.add(responses.POST, RESERVE, body=empty)
    mocked.add(responses.GET, LOCKED, body=empty)
    tasks.account_reservation_release_task(account.pk)
    got = client.get(url)
    assert got.status_code == 200
    assert got.json()["released"] is True and got.json()["message"] == "Released 2 x 1578."
    assert got.json()["reservation"]["models"] == [] and got.json()["finished_at"]


def test_reservation_release_that_cannot_reach_the_provider_is_an_outcome(bd, mocked):
    from tests.providers.brandsdistribution.helpers import LOCKED

    account, client = bd
    mocked.add(responses.GET, LOCKED,
               body=requests.exceptions.ConnectionError("name or service not known"))
    response = client.post(f"/api/v1/accounts/{account.pk}/reservation/release/",
                           format="json")
    assert response.status_code == 200
    assert response.json()["released"] is False
    assert response.json()["message"].startswith("Nothing released:")


def test_schema_documents_the_queued_answers(db):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    check = paths["/api/v1/accounts/{id}/check/"]
    assert {"200", "202"} <= set(check["post"]["responses"])
    assert {"200", "202", "404"} <= set(check["get"]["responses"])
    authorize = paths["/api/v1/merchants/{id}/authorize/"]["post"]["responses"]
    assert {"200", "201", "202", "409"} <= set(authorize)
    link = paths["/api/v1/merchants/{id}/authorization-link/"]["get"]["responses"]
    assert {"200", "202", "403", "404"} <= set(link)
    verification = paths["/api/v1/merchants/{id}/verification/"]["get"]["responses"]
    assert {"200", "202", "404"} <= set(verification)
    release = paths["/api/v1/accounts/{id}/reservation/release/"]
    assert {"200", "202", "409"} <= set(release["post"]["responses"])
    assert {"200", "202", "404"} <= set(release["get"]["responses"])
    assert {"200", "202"} <= set(paths["/api/v1/accounts/{id}/reservation/"]["get"]["responses"])


def test_a_replayed_202_keeps_location_and_retry_after(staff_api, tipser, queued):
    url = f"/api/v1/accounts/{tipser.pk}/check/"
    first = staff_api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="check-1")
    again = staff_api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="check-1")
    assert again["Idempotent-Replayed"] == "true"
    _pending(first, url)
    _pending(again, url)
    assert len(queued) == 1


def test_reservation_reads_of_another_providers_account_are_a_documented_409(
        staff_api, tipser, mocked):
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for template in ("/api/v1/accounts/{id}/reservation/",
                     "/api/v1/accounts/{id}/reservation/release/"):
        response = staff_api.get(template.format(id=tipser.pk))
        assert response.status_code == 409, response.content
        assert response.json()["error"]["code"] == "not_supported"
        assert "409" in paths[template]["get"]["responses"]  # fuzz ST103
    assert len(mocked.calls) == 0
