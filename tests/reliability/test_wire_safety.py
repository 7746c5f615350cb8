"""Issue 21, findings 2 and 4, reproduced at the wire (real sockets on loopback).

2. A provider that accepts the create, sends ``200`` headers and stalls the body past the
   read timeout must not receive the create a second time.
4. A redirect from a provider must not carry the body or the credentials to another host,
   and is never classed as retryable.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from orders import tasks
from orders.lifecycle import Lifecycle
from orders.models import Order
from tests.providers.aliseeks import fault_spec as aliseeks_spec
from tests.providers.brandsdistribution import fault_spec as bd_spec

from .wire_provider import WireProvider

pytestmark = pytest.mark.django_db

READ_TIMEOUT = 0.3


def _point_at(order: Order, url: str) -> None:
    account = order.merchant.account
    account.base_url = url
    account.save()


def _place(order: Order) -> Order:
    tasks.order_place_task.delay(order.pk)
    order.refresh_from_db()
    return order


@pytest.fixture
def fast_timeouts(settings):
    settings.PROVIDER_READ_TIMEOUT = READ_TIMEOUT
    settings.PROVIDER_CONNECT_TIMEOUT = 0.5
    settings.ORDER_PLACE_MAX_TRIES = 3
    cache.clear()


SPECS = {"aliseeks": aliseeks_spec.FAULT_SPEC, "brandsdistribution": bd_spec.FAULT_SPEC}


def _server(key: str, **kw) -> WireProvider:  # type: ignore[no-untyped-def]
    from urllib.parse import urlsplit

    spec = SPECS[key]
    method, url = spec["create"]
    return WireProvider(create=(method, urlsplit(url).path),
                        create_reply=spec["create_success_json"], **kw)


@pytest.mark.parametrize("provider_key", sorted(SPECS))
def test_stalled_body_after_200_headers_is_never_sent_twice(provider_key, fast_timeouts):
    order = SPECS[provider_key]["make_order"]()
    with _server(provider_key, fault="stall_body", stall=READ_TIMEOUT * 4) as server:
        _point_at(order, server.url)
        order = _place(order)

    assert server.creates_received == 1, "the create was sent again after a stalled reply"
    assert order.state == Lifecycle.PLACEMENT_UNKNOWN
    assert "Outcome unknown" in order.failure_reason
    assert "Traceback" not in order.failure_reason


def test_redirect_to_another_host_sends_it_nothing(fast_timeouts):
    order = aliseeks_spec.make_order()
    with WireProvider(host="127.0.0.2") as elsewhere, _server(
        "aliseeks", fault="redirect_307",
        redirect_to="", times=None,
    ) as server:
        server.redirect_to = f"{elsewhere.url}/v1/orders?apiKey=leak-me-123"
        _point_at(order, server.url)
        order = _place(order)

    assert elsewhere.requests == [], "the redirect carried the create to another host"
    assert server.creates_received == 1
    sent = server.requests[0]
    assert sent.headers["x-api-client-id"] == aliseeks_spec.API_KEY  # it went to the provider
    assert order.state == Lifecycle.PLACEMENT_UNKNOWN  # a create answered 3xx: unknown
    assert "HTTP 307" in order.failure_reason
    assert "redirect" in order.failure_reason.lower()
    assert "leak-me-123" not in order.failure_reason and "?" not in order.failure_reason
    assert not order.events.filter(kind="note", message__contains="retrying").exists()


def test_reseller_draft_create_that_stalls_is_never_sent_twice(fast_timeouts):
    """The provider-side draft is created before the placement's claim: a stalled reply
    there must not be re-sent either — neither by the task's retry nor by a second try."""
    from tests.providers.reseller import fault_spec as reseller_spec

    order = reseller_spec.make_order()
    Order.objects.filter(pk=order.pk).update(external_id="", external_ids=[], raw_status="")
    order.items.update(external_id="")
    token = {"access_token": "wire-token", "token_type": "bearer", "expires_in": 3600}
    with WireProvider(create=("POST", "/api/orders"), create_reply={"Id": 5001},
                      routes={("POST", "/oauth/token"): lambda accepted: (200, token)},
                      fault="stall_body", stall=READ_TIMEOUT * 4) as server:
        _point_at(order, server.url)
        tasks.order_place_task.delay(order.pk)
        tasks.order_place_task.delay(order.pk)  # the operator (or a redelivery) tries again

    assert server.creates_received == 1, "the draft create was sent again"
    order.refresh_from_db()
    assert order.state == Lifecycle.DRAFT and not order.external_id
    assert order.events.filter(message__contains="the provider may have acted").exists()
    assert order.events.filter(operation="list_orders").exists()  # the 2nd try looked it up
