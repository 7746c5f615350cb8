"""The fault matrix at the wire: every provider's placement against a loopback provider that
misbehaves with real sockets and real timeouts (``wire_provider.py``), through the Celery
task path (eager: retries and the reconcile lookup run inline).

Faults after the request was sent (a body that stalls after ``200`` headers, headers that
trickle in and stop, a reset after the request was read, truncated chunked and
Content-Length bodies, 307/302 to another host) must end in *placement unknown* — never a
second create. Faults before sending (connection refused, connect timeout, DNS failure) are
retried and end placed or ``failed`` with a readable reason. Counted at the loopback server:
creates received, creates accepted, and every request the redirect target received (none).

Rows join the fault-matrix table (``test-artifacts/fault-matrix.md``), prefixed ``wire:``.
The suite's PostgreSQL pass (``make test-postgres``) runs this file on PostgreSQL too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache

from orders import tasks
from orders.lifecycle import Lifecycle
from orders.models import Order

from .test_fault_matrix import SPECS, _events_summary
from .wire_provider import DNS_FAILURE_URL, FAULTS, ConnectTimeoutAddress, WireProvider, refused_url

pytestmark = pytest.mark.django_db

READ_TIMEOUT = 0.4
CONNECT_TIMEOUT = 0.2
MAX_TRIES = 5


@dataclass(frozen=True)
class WireFault:
    name: str
    fault: str  # a wire_provider fault, or "refused" / "connect_timeout" / "dns" (before sending)
    kind: str  # "unavailable" (retried), "unknown" (never re-sent), "ok" (slow but complete)


WIRE_FAULTS = [
    WireFault("connection refused", "refused", "unavailable"),
    WireFault("connect timeout", "connect_timeout", "unavailable"),
    WireFault("DNS failure", "dns", "unavailable"),
    WireFault("body stalls after 200 headers", "stall_body", "unknown"),
    WireFault("headers trickle in, then stall", "trickle_headers_then_stall", "unknown"),
    WireFault("headers trickle in past the read timeout, then complete",
              "trickle_headers_slow", "ok"),
    WireFault("reset after the request was read (acted on)", "reset_after_read", "unknown"),
    WireFault("reset after the request was read (not acted on)", "reset_before_acting",
              "unknown"),
    WireFault("truncated chunked body", "truncated_chunked", "unknown"),
    WireFault("truncated Content-Length body", "truncated_length", "unknown"),
    WireFault("307 to another host", "redirect_307", "unknown"),
    WireFault("302 to another host", "redirect_302", "unknown"),
]
PRE_SEND = {"refused", "connect_timeout", "dns"}
MODES = ["once", "always"]


class _Routes:
    """Stands in for a ``responses`` mock: what a spec's ``mock_success`` registers becomes a
    loopback route."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}

    def add(self, method: str, url: str, json: Any = None, status: int = 200,
            **_: Any) -> None:
        self.routes[(method, urlsplit(url).path)] = lambda accepted: (status, json)


def _server_for(provider_key: str, order: Order, wire: WireFault, mode: str) -> WireProvider:
    spec = SPECS[provider_key]
    method, url = spec["create"]
    routes = _Routes()
    if spec.get("mock_success"):
        spec["mock_success"](routes, order)
    else:  # the fake provider: a lookup by our reference that tells the truth
        routes.routes[("GET", f"/orders/by-ref/{order.reference}")] = lambda accepted: (
            200, {"id": "F-1", "status": "NEW"} if accepted else {})
    if spec.get("lookup"):  # the provider's lookup tells the truth about what it accepted
        l_method, l_url, if_accepted, if_not = spec["lookup"]
        routes.routes[(l_method, urlsplit(l_url).path)] = lambda accepted: (
            200, if_accepted if accepted else if_not)
    # trickled headers: 5 lines, each gap well under the read timeout, 1.5x it in all
    return WireProvider(
        create=(method, urlsplit(url).path), create_reply=spec["create_success_json"],
        routes=routes.routes, fault=None if wire.fault in PRE_SEND else wire.fault,
        times=1 if mode == "once" else None, stall=READ_TIMEOUT * 4, gap=READ_TIMEOUT * 0.3,
    )


@contextmanager
def _dead_address(fault: str) -> Iterator[str]:
    if fault == "connect_timeout":
        with ConnectTimeoutAddress() as url:
            yield url
    else:
        yield refused_url() if fault == "refused" else DNS_FAILURE_URL


def _point_at(order: Order, url: str) -> None:
    account = order.merchant.account
    account.base_url = url
    account.save(update_fields=["base_url"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wire", WIRE_FAULTS, ids=[w.name for w in WIRE_FAULTS])
@pytest.mark.parametrize("provider_key", sorted(SPECS))
def test_fault_matrix_wire(provider_key, wire, mode, fault_matrix_rows, settings, monkeypatch):
    settings.ORDER_PLACE_MAX_TRIES = MAX_TRIES
    settings.PROVIDER_READ_TIMEOUT = READ_TIMEOUT
    settings.PROVIDER_CONNECT_TIMEOUT = CONNECT_TIMEOUT
    cache.clear()
    spec = SPECS[provider_key]
    order = spec["make_order"]()
    create_method, create_url = spec["create"]
    create_path = urlsplit(create_url).path

    with ExitStack() as stack:
        elsewhere = stack.enter_context(WireProvider(host="127.0.0.2"))
        server = stack.enter_context(_server_for(provider_key, order, wire, mode))
        server.redirect_to = f"{elsewhere.url}{create_path}?token=redirect-secret"
        if wire.fault in PRE_SEND:
            _point_at(order, stack.enter_context(_dead_address(wire.fault)))
            if mode == "once":  # the provider is back by the time the retry runs
                countdown = tasks.retry_countdown

                def back_then(retries: int, retry_after: float | None = None) -> float:
                    _point_at(order, server.url)
                    return countdown(retries, retry_after)

                monkeypatch.setattr(tasks, "retry_countdown", back_then)
        else:
            _point_at(order, server.url)
        tasks.order_place_task.delay(order.pk)

    order.refresh_from_db()
    sent = order.events.filter(kind="provider_call",
                               message__startswith=f"{create_method} ",
                               message__contains=create_path).count()
    fault_matrix_rows.append({
        "provider": provider_key, "fault": f"wire: {wire.name}", "mode": mode,
        "create requests sent": sent, "received by provider": server.creates_received,
        "accepted creates": server.accepted, "final state": order.state,
        "events": _events_summary(order),
        "failure reason": (order.failure_reason[:140] + "…")
        if len(order.failure_reason) > 140 else order.failure_reason or "—",
    })

    # never a second create, never anything to another host
    assert server.accepted <= 1, "two accepted creates for one order"
    assert elsewhere.requests == [], "a request reached the redirect target"
    assert order.state in Lifecycle.ALL and order.state != Lifecycle.PLACING
    assert "Traceback" not in order.failure_reason
    assert "?" not in order.failure_reason and "redirect-secret" not in order.failure_reason
    for event in order.events.filter(kind="provider_call").exclude(outcome="ok"):
        assert event.message and "Traceback" not in event.message

    has_lookup = provider_key == "fake" or bool(spec.get("lookup"))
    if wire.kind == "unknown":
        assert server.creates_received == 1, "an unknown outcome was sent again"
        assert sent == 1
        assert server.accepted == int(FAULTS[wire.fault])
        assert order.events.filter(to_state=Lifecycle.PLACEMENT_UNKNOWN).exists()
        if has_lookup:  # settled by the provider's truthful lookup
            assert (order.state == Lifecycle.DRAFT) == (not server.accepted)
        else:
            assert order.state == Lifecycle.PLACEMENT_UNKNOWN
        if order.state == Lifecycle.PLACEMENT_UNKNOWN:
            assert "Outcome unknown" in order.failure_reason
    elif wire.kind == "unavailable":
        assert not order.events.filter(to_state=Lifecycle.PLACEMENT_UNKNOWN).exists()
        tries_failed = order.events.filter(to_state=Lifecycle.FAILED).count()
        if mode == "once":  # (the reseller's first call is its token, not the create)
            assert (tries_failed, server.creates_received, server.accepted) == (1, 1, 1)
            assert order.external_id and order.state not in (Lifecycle.FAILED, Lifecycle.DRAFT)
        else:
            assert (tries_failed, server.creates_received) == (MAX_TRIES, 0)
            assert order.state == Lifecycle.FAILED
            assert "nothing was sent" in order.failure_reason
            assert f"gave up after {MAX_TRIES} tries" in order.failure_reason
    else:  # slow but complete: placed on the first try
        assert (sent, server.creates_received, server.accepted) == (1, 1, 1)
        assert order.external_id and order.state not in (Lifecycle.FAILED, Lifecycle.DRAFT,
                                                         Lifecycle.PLACEMENT_UNKNOWN)
