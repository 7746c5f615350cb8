"""Tipser sync of 10,000 orders × 2 items from the Tipser sandbox served on loopback.

dropdesk: ``orders.services.account_sync_incoming`` (the real client over HTTP to the sandbox
run by ``manage.py runserver`` against the same database; pages of 100), orders/s end to end.
Ceiling, same run, same sandbox, same rows: a raw ``requests.Session`` fetching the same pages
and ``bulk_create`` of the same orders and items.
Also: queries per synced page for page sizes 50, 100 and 200 (1,000 orders each).

Each is run REPEAT times (alternating, on emptied accounts); the median is reported.
Targets: ≥ 2,000 orders/s on SQLite and ≥ 60 % of the ceiling; ≤ 10 queries per page of 100,
equal for pages of 50 and 200.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from decimal import Decimal

from _common import Server, report, run_per_database, setup_django

N_ORDERS = 10_000
PAGE = 100
REPEAT = 3
QUERY_ORDERS = 1_000
SYNC_KEY = "bench-sync-apikey"
PAGES_KEY = "bench-pages-apikey"


def _sandbox_orders(api_key: str, n: int):  # type: ignore[no-untyped-def]
    """At least ``n`` sandbox orders (2 items each) in the sandbox's own tables, in bulk."""
    import random

    from providers.tipser.models import SandboxMerchant, SandboxOrder
    from providers.tipser.sandbox import orders_generate

    merchant, _ = SandboxMerchant.objects.get_or_create(api_key=api_key, defaults={"name": api_key})
    have = SandboxOrder.objects.filter(merchant=merchant).count()
    rng = random.Random(8)
    # spread over the last few days (orders_generate spaces them a minute apart)
    while have < n:
        chunk = min(2000, n - have)
        orders_generate(merchant=merchant, count=chunk, rng=rng, items=2,
                        now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=have))
        have += chunk
    return SandboxOrder.objects.filter(merchant=merchant).order_by("order_date").first().order_date


def _account(name: str, api_key: str, base_url: str, page_size: int):  # type: ignore[no-untyped-def]
    from merchants.models import Merchant, ProviderAccount
    from orders.models import Order

    account, _ = ProviderAccount.objects.get_or_create(
        provider="tipser", name=name, defaults={"environment": "sandbox"})
    account.base_url = base_url
    account.credentials = {"api_key": api_key}
    account.options = {"page_size": page_size}
    account.state = {}
    account.save()
    merchant = Merchant.objects.filter(account=account).order_by("pk").first()
    if merchant is None:
        merchant = Merchant.objects.create(account=account, name=name, external_id=name)
    _wipe(Order.objects.filter(merchant__account=account))
    return account, merchant


def _wipe(orders) -> None:  # type: ignore[no-untyped-def]
    from orders.models import OrderEvent, OrderItem

    ids = list(orders.values_list("pk", flat=True))
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        OrderEvent.objects.filter(order_id__in=chunk)._raw_delete(OrderEvent.objects.db)
        OrderItem.objects.filter(order_id__in=chunk)._raw_delete(OrderItem.objects.db)
        orders.model.objects.filter(pk__in=chunk)._raw_delete(orders.db)


def _money(value: dict | None) -> Decimal | None:
    return Decimal(str(value["value"])) if value else None


def ceiling(url: str, api_key: str, since: str, merchant) -> int:  # type: ignore[no-untyped-def]
    """The least a sync can do: fetch every page, bulk_create the same orders and items."""
    import requests
    from django.db import transaction
    from django.utils.dateparse import parse_datetime

    from orders.models import Order, OrderItem

    session = requests.Session()
    index, done = 0, 0
    while True:
        response = session.get(url + "v3/merchants/orders", params={
            "apiKey": api_key, "from": since, "states": "0,1,2,3,4,6", "pageSize": PAGE,
            "pageIndex": index}, timeout=30)
        response.raise_for_status()
        body = response.json()
        items = body["items"]
        with transaction.atomic():
            orders = Order.objects.bulk_create([
                Order(merchant=merchant, external_id=o["id"], reference=f"CEIL-{o['orderNumber']}-{o['id'][:6]}",
                      raw_status=str(o["status"]), contact_name=o["customer"]["firstName"],
                      contact_email=o["customer"]["email"], city=o["customer"]["deliveryAddress"]["city"],
                      country=o["customer"]["deliveryAddress"]["country"], currency="EUR",
                      total=sum(_money(i["totalPriceIncVat"]) for i in o["items"]),
                      ordered_at=parse_datetime(o["orderDate"]), raw_data=o, state="placed")
                for o in items
            ])
            OrderItem.objects.bulk_create([
                OrderItem(order_id=order.pk, external_id=i["id"], product_id=i["productId"], sku=i["sku"],
                          name=i["productName"], quantity=i["quantity"],
                          total_price=_money(i["totalPriceIncVat"]), raw_status=str(i["status"]),
                          next_statuses=i.get("nextStatuses"), raw_data=i)
                for order, o in zip(orders, items, strict=True) for i in o["items"]
            ])
        done += len(items)
        index += 1
        if len(items) < PAGE:
            return done


def queries_per_page(base_url: str, page_size: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order
    from orders.services import account_sync_incoming

    account, _merchant = _account(f"bench-pages-{page_size}", PAGES_KEY, base_url, page_size)
    since = timezone_since(PAGES_KEY)
    with CaptureQueriesContext(connection) as ctx:
        totals = account_sync_incoming(account=account, since=since)
    assert totals["created"] == QUERY_ORDERS, totals
    # the same sandbox orders are synced into three accounts: keep their references free
    _wipe(Order.objects.filter(merchant__account=account))
    return len(ctx.captured_queries) / totals["pages"], len(ctx.captured_queries), totals["pages"]


def timezone_since(api_key: str) -> dt.datetime:
    from providers.tipser.models import SandboxOrder

    first = SandboxOrder.objects.filter(merchant__api_key=api_key).order_by("order_date").first()
    return first.order_date - dt.timedelta(days=1)


def run(db: str, url: str) -> None:
    setup_django(url)
    from orders.models import Order
    from orders.services import account_sync_incoming

    _sandbox_orders(SYNC_KEY, N_ORDERS)
    _sandbox_orders(PAGES_KEY, QUERY_ORDERS)
    since = timezone_since(SYNC_KEY)
    with Server(url) as server:
        base_url = server.url + "/sandbox/tipser/"
        account, merchant = _account("bench-sync", SYNC_KEY, base_url, PAGE)
        ceiling_account, ceiling_merchant = _account("bench-sync-ceiling", SYNC_KEY, base_url, PAGE)

        # REPEAT runs of each, alternating, on empty accounts; the median is reported (the
        # machine is shared by client, server and database: single runs vary by ±10 %)
        ours_runs, ceiling_runs = [], []
        for attempt in range(REPEAT):
            if attempt:
                _wipe(Order.objects.filter(merchant__account=account))
                account.state = {}
            start = time.perf_counter()
            totals = account_sync_incoming(account=account, since=since)
            ours_runs.append(time.perf_counter() - start)
            assert totals["created"] == N_ORDERS, totals

            _wipe(Order.objects.filter(merchant__account=ceiling_account))
            start = time.perf_counter()
            done = ceiling(base_url, SYNC_KEY, since.date().isoformat(), ceiling_merchant)
            ceiling_runs.append(time.perf_counter() - start)
            assert done == N_ORDERS, done
        ours_s, ceiling_s = statistics.median(ours_runs), statistics.median(ceiling_runs)

        # a second sync of the same orders (nothing changed): the periodic case
        account.state = {}
        start = time.perf_counter()
        again = account_sync_incoming(account=account, since=since)
        resync_s = time.perf_counter() - start
        assert again["unchanged"] == N_ORDERS, again

        per_page = {size: queries_per_page(base_url, size) for size in (50, 100, 200)}
    assert Order.objects.filter(merchant=merchant).count() == N_ORDERS
    ours, ceil, resync = N_ORDERS / ours_s, N_ORDERS / ceiling_s, N_ORDERS / resync_s
    ratio = ours / ceil
    rows = [
        (f"sync 10k×2 orders/s (median of {REPEAT})", ours, ceil, "≥ 2,000/s (SQLite)"),
        ("  runs, orders/s", " / ".join(f"{N_ORDERS / r:,.0f}" for r in ours_runs),
         " / ".join(f"{N_ORDERS / r:,.0f}" for r in ceiling_runs), ""),
        ("ratio to ceiling", f"{ratio:.0%}", "", "≥ 60 %"),
        ("re-sync unchanged orders/s", resync, "", "—"),
    ]
    for size, (qpp, total, pages) in per_page.items():
        rows.append((f"queries per page of {size}", qpp, "", f"≤ 10, equal ({total} q / {pages} p)"))
    report("tipser sync", db, rows, {
        "orders": N_ORDERS, "page_size": PAGE, "orders_per_s": round(ours), "ceiling_orders_per_s": round(ceil),
        "ratio": round(ratio, 3), "resync_orders_per_s": round(resync), "runs": REPEAT,
        "orders_per_s_runs": [round(N_ORDERS / r) for r in ours_runs],
        "ceiling_orders_per_s_runs": [round(N_ORDERS / r) for r in ceiling_runs],
        **{f"queries_per_page_{size}": round(v[0], 2) for size, v in per_page.items()},
    })
    for acct in (account, ceiling_account):
        _wipe(Order.objects.filter(merchant__account=acct))


if __name__ == "__main__":
    run_per_database(__file__)
    run(sys.argv[1], sys.argv[2])
