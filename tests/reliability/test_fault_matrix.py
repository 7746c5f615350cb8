"""The fault matrix: every provider's create call under every transport/status fault, run
through the Celery task path (eager: retries run inline, countdowns are not waited for).

Providers: the test-only fake provider, plus every ``tests/providers/<key>/fault_spec.py``
that exists (``FAULT_SPEC = {"make_order", "mock_success", "create", "create_success_json"}``).

Faults are injected at the HTTP layer with ``responses``. A small model of the provider decides
whether a faulty create was *received* (reached the provider) and *accepted* (created an order
there), so the table shows what the provider saw. Invariants checked for every row: never two
accepted creates for one order; the order ends in a named state (never stuck in ``placing``);
every failure has a readable reason on the order and on the timeline.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from dataclasses import dataclass
from http.client import RemoteDisconnected
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from django.core.cache import cache
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from orders import tasks
from orders.lifecycle import Lifecycle
from orders.models import Order
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db


# --- the faults ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    name: str
    received: bool  # the request reached the provider
    accepted: bool  # …and the provider created the order before the fault
    reply: Any  # an exception, or (status, headers, body)
    kind: str  # what we expect: "unavailable" (retried), "unknown" (never re-sent)


def _refused() -> Exception:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] "  # type: ignore[arg-type]
                                "Connection refused")
    return requests.exceptions.ConnectionError(reason)


FAULTS = [
    Fault("connection refused", False, False, _refused, "unavailable"),
    Fault("connect timeout (before send)", False, False,
          lambda: requests.exceptions.ConnectTimeout("connect timed out"), "unavailable"),
    Fault("read timeout after provider accepted", True, True,
          lambda: requests.exceptions.ReadTimeout("read timed out"), "unknown"),
    Fault("HTTP 503", True, False, (503, {}, "Service Unavailable"), "unavailable"),
    Fault("HTTP 500 (provider crashed after saving)", True, True,
          (500, {}, "Internal Server Error"), "unknown"),
    Fault("HTTP 429 with Retry-After", True, False,
          (429, {"Retry-After": "30"}, "Too Many Requests"), "unavailable"),
    Fault("HTTP 429 without Retry-After", True, False, (429, {}, "Too Many Requests"),
          "unavailable"),
    Fault("malformed 200 body", True, True, (200, {"Content-Type": "application/json"},
                                             "<html>oops</html>"), "unknown"),
    Fault("reset mid-body (ChunkedEncodingError)", True, True,
          lambda: requests.exceptions.ChunkedEncodingError(
              ProtocolError("Connection broken: IncompleteRead(12 bytes read)")), "unknown"),
    Fault("connection aborted after accept (RemoteDisconnected)", True, True,
          lambda: requests.exceptions.ConnectionError(ProtocolError(
              "Connection aborted.", RemoteDisconnected("Remote end closed connection"))),
          "unknown"),
    Fault("body stalled after 200 headers (ConnectionError(ReadTimeoutError))", True, True,
          lambda: requests.exceptions.ConnectionError(
              ReadTimeoutError(None, None, "Read timed out.")),  # type: ignore[arg-type]
          "unknown"),
    Fault("HTTP 502 (a gateway lost the provider's reply)", True, True,
          (502, {}, "Bad Gateway"), "unknown"),
    Fault("HTTP 307 to another host (not followed)", True, False,
          (307, {"Location": "https://elsewhere.example.test/orders?token=x"}, ""), "unknown"),
    Fault("connection aborted before provider acted", True, False,
          lambda: requests.exceptions.ConnectionError(ProtocolError(
              "Connection aborted.", RemoteDisconnected("Remote end closed connection"))),
          "unknown"),
]
MODES = ["once", "always"]


# --- the providers ------------------------------------------------------------------------------
def _fake_make_order() -> Order:
    order = OrderFactory(merchant=MerchantFactory())
    OrderItemFactory(order=order, sku="SKU-A", quantity=2)
    return order


def _fake_mock_success(rsps: Any, order: Order, provider: ProviderModel) -> None:
    # the fake provider can be asked "do you have an order with our reference?"
    def lookup(request):  # type: ignore[no-untyped-def]
        body = {"id": "F-1", "status": "NEW"} if provider.accepted else {}
        return 200, {}, json.dumps(body)

    rsps.add_callback(responses.GET, f"{BASE_URL}/orders/by-ref/{order.reference}",
                      callback=lookup)


FAKE_SPEC = {
    "make_order": _fake_make_order,
    "mock_success": None,  # stateful, see _fake_mock_success
    "create": ("POST", f"{BASE_URL}/orders"),
    "create_success_json": {"id": "F-1", "status": "NEW"},
}


def _specs() -> dict[str, dict[str, Any]]:
    specs = {"fake": FAKE_SPEC}
    root = Path(__file__).resolve().parent.parent / "providers"
    for path in sorted(root.glob("*/fault_spec.py")):
        module = importlib.import_module(f"tests.providers.{path.parent.name}.fault_spec")
        specs[path.parent.name] = module.FAULT_SPEC
    return specs


SPECS = _specs()


class ProviderModel:
    """What the provider saw: create requests received and orders it created."""

    def __init__(self, fault: Fault, mode: str, success_json: Any) -> None:
        self.fault, self.mode, self.success_json = fault, mode, success_json
        self.sent = 0
        self.received = 0
        self.accepted = 0

    def create(self, request):  # type: ignore[no-untyped-def]
        self.sent += 1
        faulty = self.mode == "always" or self.sent == 1
        if not faulty:
            self.received += 1
            self.accepted += 1
            return 200, {"Content-Type": "application/json"}, json.dumps(self.success_json)
        if self.fault.received:
            self.received += 1
        if self.fault.accepted:
            self.accepted += 1
        reply = self.fault.reply
        return reply() if callable(reply) else reply


def _events_summary(order: Order) -> str:
    path = [e.to_state for e in order.events.filter(kind="transition").order_by("pk") if e.to_state]
    calls = Counter(
        f"{e.operation}:{e.outcome}" for e in order.events.filter(kind="provider_call")
    )
    notes = order.events.filter(kind="note", message__contains="retrying").count()
    parts = ["→".join(path), ", ".join(f"{k} x{v}" for k, v in sorted(calls.items()))]
    if notes:
        parts.append(f"{notes} retry note(s)")
    return "; ".join(p for p in parts if p)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
@pytest.mark.parametrize("provider_key", sorted(SPECS))
def test_fault_matrix(provider_key, fault, mode, fault_matrix_rows, settings):
    settings.ORDER_PLACE_MAX_TRIES = 5
    cache.clear()
    spec = SPECS[provider_key]
    method, url = spec["create"]
    order = spec["make_order"]()
    provider = ProviderModel(fault, mode, spec["create_success_json"])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        if spec.get("mock_success"):
            spec["mock_success"](rsps, order)
            rsps.remove(method, url)  # the create is ours to fault
        else:
            _fake_mock_success(rsps, order, provider)
        rsps.add_callback(method, url, callback=provider.create)
        if spec.get("lookup"):  # the provider's lookup tells the truth about what it accepted
            l_method, l_url, if_accepted, if_not = spec["lookup"]
            rsps.remove(l_method, l_url)
            rsps.add_callback(l_method, l_url, callback=lambda request: (
                200, {"Content-Type": "application/json"},
                json.dumps(if_accepted if provider.accepted else if_not)))
        tasks.order_place_task.delay(order.pk)

    order.refresh_from_db()
    row = {
        "provider": provider_key, "fault": fault.name, "mode": mode,
        "create requests sent": provider.sent, "received by provider": provider.received,
        "accepted creates": provider.accepted, "final state": order.state,
        "events": _events_summary(order),
        "failure reason": (order.failure_reason[:140] + "…")
        if len(order.failure_reason) > 140 else order.failure_reason or "—",
    }
    fault_matrix_rows.append(row)

    # the invariants, for every provider
    assert provider.accepted <= 1, "two accepted creates for one order"
    assert order.state in Lifecycle.ALL and order.state != Lifecycle.PLACING
    # a provider may document a fault as final (Aliseeks: 429 = subscription quota exhausted)
    kind = spec.get("fault_kinds", {}).get(fault.name, fault.kind)
    if kind == "rejected":
        assert provider.sent == 1, "a documented non-transient refusal was retried"
        assert order.state == Lifecycle.FAILED and order.failure_reason
    elif kind == "unknown":
        assert provider.sent == 1, "an unknown outcome was re-sent"
        assert order.state in (Lifecycle.PLACED, Lifecycle.PLACEMENT_UNKNOWN, Lifecycle.DRAFT)
        assert order.events.filter(to_state=Lifecycle.PLACEMENT_UNKNOWN).exists()
        if order.state == Lifecycle.PLACEMENT_UNKNOWN:
            assert "Outcome unknown" in order.failure_reason
    else:
        expected_sends = 2 if mode == "once" else settings.ORDER_PLACE_MAX_TRIES
        assert provider.sent == expected_sends
    if order.state == Lifecycle.FAILED and kind != "rejected":
        assert "gave up after 5 tries" in order.failure_reason
        assert "Traceback" not in order.failure_reason
    for event in order.events.filter(kind="provider_call").exclude(outcome="ok"):
        assert event.message and "Traceback" not in event.message
    if order.state == Lifecycle.PLACED:
        assert order.external_id and provider.accepted == 1

    # the fake provider's outcome is known exactly (its lookup tells the truth)
    if provider_key == "fake":
        if fault.kind == "unavailable":
            assert order.state == (Lifecycle.PLACED if mode == "once" else Lifecycle.FAILED)
        else:
            assert order.state == (Lifecycle.PLACED if fault.accepted else Lifecycle.DRAFT)
