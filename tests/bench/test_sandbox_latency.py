"""The sandbox latency knob: SANDBOX_LATENCY_MS delays /sandbox/ requests only."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory

from providers import sandbox_latency
from providers.sandbox_latency import SandboxLatencyMiddleware


def _run(path: str, monkeypatch) -> list[float]:  # type: ignore[no-untyped-def]
    slept: list[float] = []
    monkeypatch.setattr(sandbox_latency.time, "sleep", slept.append)
    middleware = SandboxLatencyMiddleware(lambda request: HttpResponse("ok"))
    assert middleware(RequestFactory().get(path)).status_code == 200
    return slept


def test_sandbox_requests_wait_the_configured_latency(settings, monkeypatch):
    settings.SANDBOX_LATENCY_MS = 120
    assert _run("/sandbox/tipser/v3/merchants/orders", monkeypatch) == [0.12]


def test_other_paths_and_the_default_do_not_wait(settings, monkeypatch):
    settings.SANDBOX_LATENCY_MS = 120
    assert _run("/admin/orders/order/", monkeypatch) == []
    settings.SANDBOX_LATENCY_MS = 0
    assert _run("/sandbox/tipser/v3/merchants/orders", monkeypatch) == []
