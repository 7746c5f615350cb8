"""Issue 21, "One redaction at every sink": the canary search.

Each provider account gets a unique secret in every credential field (and the reseller's token
endpoint hands out a unique access token). Every provider call then fails in one of several
ways, each echoing the secrets back where it can: in the exception text with the full URL, in
a 4xx or 5xx body, in the provider's error JSON, together with the request's own
``Authorization`` / ``X-Api-Client-Id`` header and URL. We drive placement (Celery task path,
retries included), order sync, the API's account check, the admin's check action and, for
Tipser, the API's ship. Then we search for the canaries in:

* the whole database (``dumpdata`` of every app: every table's text and JSON columns),
* all log output: pytest's capture (root) and a plain handler on the root and Celery loggers,
* API responses: error bodies, order list and detail (with the timeline), account detail,
* admin pages: order, account and merchant change pages, changelists, the event list,
* the CSV export,

and expect 0 hits.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import secrets as random_secrets
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from merchants.models import ProviderAccount
from orders import snapshots
from orders.models import Order
from orders.tasks import order_place_task, order_sync_task
from providers.registry import get as provider_class
from providers.tipser import mapping as tipser_mapping
from tests.factories import AccountFactory, MerchantFactory, OrderFactory
from tests.providers.aliseeks import fault_spec as aliseeks_spec
from tests.providers.brandsdistribution import fault_spec as bd_spec
from tests.providers.reseller import fault_spec as reseller_spec
from tests.providers.tipser.conftest import wire_order

pytestmark = pytest.mark.django_db

PROVIDERS = ["aliseeks", "brandsdistribution", "reseller", "tipser"]
KINDS = ["connect error", "read timeout", "HTTP 401 echo", "HTTP 500 echo",
         "error JSON echo", "exception with URL"]
ANY_URL = re.compile(r"https?://.*")
PIECE = re.compile(r"CANARY[a-z]+[0-9a-f]{3}")  # a canary's start with some of its random part


# --- the accounts -------------------------------------------------------------------------------
def _canaries(provider: str) -> dict[str, str]:
    return {f.name: f"CANARY{f.name.replace('_', '')}{random_secrets.token_hex(6)}"
            for f in provider_class(provider).credential_fields}


def _setup(provider: str) -> tuple[ProviderAccount, Order | None, Order]:
    """(account, a draft to place or None, an order known at the provider)."""
    draft: Order | None
    if provider == "aliseeks":
        draft = aliseeks_spec.make_order()
    elif provider == "brandsdistribution":
        draft = bd_spec.make_order()
    elif provider == "reseller":
        draft = reseller_spec.make_order()
    else:
        account = AccountFactory(provider="tipser", base_url="https://tipser.example.test")
        MerchantFactory(account=account, name="Tipser shop", external_id="shop-1")
        draft = None
    account = draft.merchant.account if draft else account  # type: ignore[union-attr]
    account.credentials = _canaries(provider)
    account.save()
    merchant = account.merchants.get()
    if provider == "tipser":
        snapshots.upsert_page(account=account,
                              page=[tipser_mapping.parse_order(wire_order(1, status=6))])
        known = Order.objects.get(external_id="ord00001")
    else:
        known = OrderFactory(merchant=merchant, state="placed", external_id="EXT-4711",
                             external_ids=["EXT-4711"], reference="REF-KNOWN")
    return account, draft, known


# --- the faults ---------------------------------------------------------------------------------
def _echo(request: Any, values: list[str]) -> str:
    headers = {k: v for k, v in request.headers.items()
               if k.lower() in ("authorization", "x-api-client-id")}
    return f"{' '.join(values)} url={request.url} headers={headers} body={request.body!r}"


def _fault(kind: str, values: list[str]) -> Callable[[Any], Any]:
    def reply(request: Any) -> Any:
        echo = _echo(request, values)
        if kind == "connect error":
            return 0, {}, requests.exceptions.ConnectionError(
                f"HTTPSConnectionPool(host='provider', port=443): Max retries exceeded with "
                f"url: {request.url} (Caused by NewConnectionError('Failed to establish a new "
                f"connection: [Errno 111] Connection refused {echo}'))")
        if kind == "read timeout":
            return 0, {}, requests.exceptions.ReadTimeout(
                f"HTTPSConnectionPool(host='provider', port=443): Read timed out. {echo}")
        if kind == "exception with URL":
            return 0, {}, requests.exceptions.InvalidURL(f"Failed to parse: {request.url} {echo}")
        if kind == "HTTP 401 echo":
            return 401, {"Content-Type": "text/plain"}, f"Unauthorized: {echo}"
        if kind == "HTTP 500 echo":
            return 500, {"Content-Type": "text/html"}, f"<html><body><h1>Error</h1><p>{echo}</p>"
        body = {  # the error shapes of all four providers at once, each echoing
            "error": {"id": "InvalidApiKey", "message": echo},
            "message": echo, "error_description": echo, "Message": echo,
            "errors": {"apiKey": [echo]}, "ModelState": {"password": [echo]},
            "status": 400, "title": echo, "detail": echo,
        }
        return 400, {"Content-Type": "application/json"}, json.dumps(body)

    return reply


def _mock(rsps: responses.RequestsMock, provider: str, kind: str, values: list[str]) -> None:
    if provider == "reseller":
        rsps.add(responses.POST, f"{reseller_spec.BASE}/oauth/token",
                 json={"access_token": values[-1], "token_type": "bearer", "expires_in": 3600})
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        rsps.add_callback(method, ANY_URL, callback=_fault(kind, values))


# --- the sinks ----------------------------------------------------------------------------------
@pytest.fixture
def plain_log():
    """A handler with no filter of ours on the root and Celery's loggers, as a worker has."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    names = ["", "celery", "celery.app.trace", "celery.worker", "celery.task"]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield stream
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def _page(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_canary_anywhere(provider, kind, admin_user, client, caplog, plain_log, settings,
                            django_capture_on_commit_callbacks):
    settings.ORDER_PLACE_MAX_TRIES = 2
    settings.ORDER_RECONCILE_DELAY = 0
    caplog.set_level(logging.DEBUG)
    account, draft, known = _setup(provider)
    canaries = list(account.credentials.values())
    if provider == "reseller":
        canaries.append(f"CANARYtoken{random_secrets.token_hex(8)}")
    api = APIClient()
    api.force_login(admin_user)
    client.force_login(admin_user)
    sinks: dict[str, str] = {}

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _mock(rsps, provider, kind, canaries)
        if draft is not None:
            order_place_task.delay(draft.pk)  # eager: a retryable fault is retried and logged
        order_sync_task.delay(known.pk)
        check = api.post(f"/api/v1/accounts/{account.pk}/check/")
        assert check.status_code == 200 and check.json()["ok"] is False, check.content  # a result, not a 502
        sinks["api check error body"] = check.content.decode()
        if provider == "tipser":
            with django_capture_on_commit_callbacks(execute=True):  # the worker pushes it
                ship = api.post(f"/api/v1/orders/{known.pk}/shipments/",
                                {"carrier": "DHL", "tracking_number": "T-1"}, format="json")
            assert ship.status_code == 202, ship.content  # queued; the failure is on the timeline
            assert known.events.filter(kind="error").exists()
            sinks["api ship body"] = ship.content.decode()
        action = client.post(reverse("admin:merchants_provideraccount_changelist"),
                             {"action": "check_accounts", "_selected_action": [account.pk]},
                             follow=True)
        sinks["admin check action"] = action.content.decode()
        # the provider saw the secrets (they were sent) …
        sent = " ".join(f"{c.request.url} {c.request.headers} {c.request.body}"
                        for c in rsps.calls)
        assert any(c in sent for c in canaries) or "Authorization': 'Basic" in sent

    # … and they are nowhere on our side
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    sinks["database dump"] = dump.getvalue()
    orders = [o for o in (draft, known) if o is not None]
    for order in orders:
        order.refresh_from_db()
        sinks[f"api order {order.pk}"] = _page(api, f"/api/v1/orders/{order.pk}/")
        sinks[f"admin order {order.pk}"] = _page(
            client, reverse("admin:orders_order_change", args=[order.pk]))
    sinks["api orders"] = _page(api, "/api/v1/orders/")
    sinks["api account"] = _page(api, f"/api/v1/accounts/{account.pk}/")
    sinks["admin orders"] = _page(client, reverse("admin:orders_order_changelist"))
    sinks["admin events"] = _page(client, reverse("admin:orders_orderevent_changelist"))
    sinks["admin accounts"] = _page(client, reverse("admin:merchants_provideraccount_changelist"))
    sinks["admin account"] = _page(
        client, reverse("admin:merchants_provideraccount_change", args=[account.pk]))
    sinks["admin merchant"] = _page(
        client, reverse("admin:merchants_merchant_change", args=[account.merchants.get().pk]))
    sinks["csv"] = _page(client, reverse("admin:orders_order_export_csv"))
    sinks["caplog"] = caplog.text
    sinks["plain log handler"] = plain_log.getvalue()

    # the failures did happen and were recorded readably
    assert any(o.failure_reason or o.events.filter(kind="error").exists() for o in orders) or \
        "provider" in sinks["api check error body"]

    if provider in ("brandsdistribution", "reseller"):  # the HTTP Basic header value
        user, password = (("api_key", "password") if provider == "brandsdistribution"
                          else ("client_id", "client_secret"))
        canaries.append(base64.b64encode(
            f"{account.credentials[user]}:{account.credentials[password]}".encode()).decode())
    hits = {name: [c for c in canaries if c in text] for name, text in sinks.items()}
    assert {name: found for name, found in hits.items() if found} == {}
    # nor a cut-off piece of one (text shortened before it was redacted)
    pieces = {name: PIECE.findall(text) for name, text in sinks.items()}
    assert {name: found for name, found in pieces.items() if found} == {}
