"""Provider calls per placed order, for every provider, with the product's defaults.

Each provider's sandbox (providers/<key>/sandbox.py, the documents' own replies) answers
in-process: HTTP requests to the sandbox host are routed to Django's test client, so the figure
is what dropdesk sends, not what a server costs. Every order is placed one after the other
through ``orders.services.order_place`` (the worker's path) as one batch per account, with the
product's defaults: the per-account rate limit on (``PROVIDER_DEFAULT_RATE_LIMIT``) and
Brandsdistribution's ``reserve_first`` on. Figures per provider: HTTP requests per order
(every request the sandbox saw, token and batch reads included, divided by the orders), the
calls on the orders' timelines per order, orders/s with the rate limit, and its limit
(rate / calls per order).

Brandsdistribution goal (issue 20): ≤ 2 calls per order in steady state. Measured: lock +
create + the status by key (the reservation read once per batch). The status by key stays: the
create reply's ``order_id`` is 0 in the doc's JSON sample and looks like the reservation's
"growing" virtual order otherwise (same attribute as the reservation status; Rewix's own
shop plugin reads the new order's id by key right after the create), so the order's id and
status come only from that read. Tipser places nothing (its orders come in by sync: one call
per page), so it has no row here.

Run: ``BENCH_DB=sqlite .venv/bin/python bench/bench_calls_per_order.py`` (BENCH_CALLS_ORDERS,
default 12 per provider).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from _common import report, run_per_database, setup_django

N_ORDERS = int(os.environ.get("BENCH_CALLS_ORDERS", "12"))
HOST = "http://sandbox.bench"


def _router(seen: Counter[str]):  # type: ignore[no-untyped-def]
    from django.test import Client

    client = Client()

    def route(request):  # type: ignore[no-untyped-def]
        parts = urlsplit(request.url)
        key = parts.path.split("/")[2]
        seen[key] += 1
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.headers.items()
                   if k.lower() not in ("content-type", "content-length", "host")}
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        response = client.generic(
            request.method, parts.path + (f"?{parts.query}" if parts.query else ""), data=body,
            content_type=request.headers.get("Content-Type", ""), **headers)
        return response.status_code, dict(response.headers), response.content

    return route


def _account(key: str, name: str, credentials: dict[str, str], options: dict[str, Any]):  # type: ignore[no-untyped-def]
    from merchants import services as merchant_services

    return merchant_services.account_create(
        provider=key, name=f"{name} {os.getpid()}-{int(time.time())}", environment="sandbox",
        base_url=f"{HOST}/sandbox/{key}", credentials=credentials, options=options)


def _merchant(account, external_id: str):  # type: ignore[no-untyped-def]
    from merchants import services as merchant_services

    merchant = merchant_services.merchant_create(
        account=account, name=f"bench {account.name}", external_id=external_id,
        contact_email="bench@example.test")
    merchant_services.merchant_authorize(merchant=merchant, how="bench")
    return merchant


def _cases() -> list[tuple[str, Any, list[int]]]:
    """(label, account, draft order pks) per provider."""
    from orders import services as order_services
    from providers.aliseeks import demo as ali
    from providers.aliseeks.models import SandboxMerchant
    from providers.brandsdistribution import demo as bd
    from providers.brandsdistribution.models import SandboxStock
    from providers.brandsdistribution.sandbox import ensure_stock
    from providers.reseller import demo as reseller

    ensure_stock()
    SandboxStock.objects.filter(stock_id__in=[148148, 1578]).update(available=10**6)
    cases = []
    for label, creds, fmt in (("brandsdistribution json", bd.CREDENTIALS, "json"),
                              ("brandsdistribution xml", bd.XML_CREDENTIALS, "xml")):
        account = _account("brandsdistribution", label, creds, {"wire_format": fmt})
        merchant = _merchant(account, creds["api_key"])
        pks = [order_services.order_create(
            merchant=merchant, items=[
                {"sku": "148148", "product_id": "148148", "name": "Sneaker", "quantity": 1,
                 "unit_price": Decimal("59.00")},
                {"sku": "1578", "product_id": "1578", "name": "T-shirt", "quantity": 2,
                 "unit_price": Decimal("14.50")}],
            provider_options={"autoConfirm": True}, **bd.ADDRESS).pk for _ in range(N_ORDERS)]
        cases.append((label, account, pks))

    SandboxMerchant.objects.update_or_create(merchant_id=ali.DEMO_MERCHANT_ID,
                                             defaults={"authorized": True})
    account = _account("aliseeks", "aliseeks", ali.CREDENTIALS, ali.OPTIONS)
    merchant = _merchant(account, ali.DEMO_MERCHANT_ID)
    pks = [order_services.order_create(merchant=merchant, items=ali.ORDERS[0], **ali.ADDRESS).pk
           for _ in range(N_ORDERS)]
    cases.append(("aliseeks", account, pks))

    account = _account("reseller", "reseller", reseller.CREDENTIALS, reseller.OPTIONS)
    merchant = _merchant(account, "ACC-1001")
    pks = [order_services.order_create(
        merchant=merchant, contact_name="Ada Lovelace", contact_email="ada@example.test",
        country="GB", items=[{"product_id": "MS365-BUS", "sku": "MS365-BUS",
                              "name": "Microsoft 365 Business", "quantity": 5,
                              "unit_price": Decimal("10.50")}]).pk for _ in range(N_ORDERS)]
    cases.append(("reseller", account, pks))
    return cases


def run(db: str, url: str) -> None:
    setup_django(url)
    import responses
    from django.conf import settings

    from orders import services as order_services
    from orders.models import Order, OrderEvent

    rate = float(settings.PROVIDER_DEFAULT_RATE_LIMIT)
    rows: list[tuple[str, Any, Any, str]] = []
    figures: dict[str, Any] = {"orders_per_provider": N_ORDERS, "rate_limit_per_s": rate}
    seen: Counter[str] = Counter()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        router = _router(seen)
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            mocked.add_callback(method, re.compile(re.escape(HOST) + "/.*"), callback=router)
        for label, _account_obj, pks in _cases():
            key = label.split()[0]
            seen.clear()
            start = time.perf_counter()
            for pk in pks:
                order = Order.objects.select_related("merchant__account").get(pk=pk)
                order_services.order_place(order=order)  # reseller: builds its draft first
            seconds = time.perf_counter() - start
            states = Counter(Order.objects.filter(pk__in=pks).values_list("state", flat=True))
            requests_per_order = seen[key] / len(pks)
            timeline = OrderEvent.objects.filter(
                order_id__in=pks, kind=OrderEvent.Kind.PROVIDER_CALL).count() / len(pks)
            limit = rate / requests_per_order if rate else None
            slug = label.replace(" ", "_")
            figures.update({
                f"{slug}_requests_per_order": round(requests_per_order, 2),
                f"{slug}_timeline_calls_per_order": round(timeline, 2),
                f"{slug}_orders_per_s": round(len(pks) / seconds, 2),
                f"{slug}_orders_per_s_limit": round(limit, 2) if limit else None,
                f"{slug}_states": dict(states),
            })
            target = ("goal ≤ 2: lock, create, status by key" if key == "brandsdistribution"
                      else "report")
            rows.append((f"{label}: calls/order", round(requests_per_order, 2), "", target))
            rows.append((f"{label}: orders/s (limit)", round(len(pks) / seconds, 2),
                         round(limit, 2) if limit else "∞", f"states {dict(states)}"))
    report("provider calls per order (defaults: rate limit on, reserve_first on)", db, rows,
           figures)


if __name__ == "__main__":
    run_per_database(__file__)
    run(sys.argv[1], sys.argv[2])
