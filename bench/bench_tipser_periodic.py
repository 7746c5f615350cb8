"""A periodic Tipser sync over many settled orders and one old open order (issue 20).

For each size S (BENCH_PERIODIC_SETTLED, default "1000,50000": the issue's 50k): a sandbox
merchant with S settled orders (every item Shipped, 2 to 25 days old) and one order still open from 20 days
ago. The account is synced once (the history), then the periodic sync (no ``since``, as the
schedule runs it) is timed REPEAT times, alternating between the sizes. Reported: provider
calls and seconds per periodic sync — neither may grow with S — with the product's defaults
(page size, rate limit). Limit, measured beside it: the same two list calls (open states
since the open order; every state since the last run) with a raw ``requests`` loop — the
provider's own reply time (the sandbox filters ``states`` and pages in SQL — each order's item
status codes are a column — as an indexed provider would).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time

from _common import Server, report, run_per_database, setup_django

SIZES = [int(s) for s in os.environ.get("BENCH_PERIODIC_SETTLED", "1000,50000").split(",")]
REPEAT = 3


def _sandbox(settled: int) -> str:
    """A sandbox merchant with ``settled`` shipped orders and one open order; its apiKey."""
    import random

    from providers.tipser.models import SandboxMerchant, SandboxOrder, item_statuses_text
    from providers.tipser.sandbox import orders_generate

    key = f"bench-periodic-{settled}"
    merchant, _ = SandboxMerchant.objects.get_or_create(api_key=key, defaults={"name": key})
    if SandboxOrder.objects.filter(merchant=merchant).count() == settled + 1:
        return key
    SandboxOrder.objects.filter(merchant=merchant).delete()
    rng = random.Random(20)
    now = dt.datetime.now(dt.UTC)
    per_day = max(1, settled // 23)
    made = 0
    for day in range(2, 26):
        count = min(per_day, settled - made) if day < 25 else settled - made
        if count <= 0:
            break
        orders = orders_generate(merchant=merchant, count=count, rng=rng, items=2,
                                 now=now - dt.timedelta(days=day))
        made += count
        for order in orders:
            for item in order.data["items"]:
                item["status"], item["nextStatuses"] = 2, [4]
            order.item_statuses = item_statuses_text(order.data)
        SandboxOrder.objects.bulk_update(orders, ["data", "item_statuses"], batch_size=1000)
    orders_generate(merchant=merchant, count=1, rng=rng, items=2, now=now - dt.timedelta(days=20))
    assert SandboxOrder.objects.filter(merchant=merchant).count() == settled + 1
    return key


def run(db: str, url: str) -> None:
    setup_django(url)
    from bench_tipser_sync import CALLS, _account, _count_calls, _wipe, page_size_default
    from django.conf import settings

    from orders.models import Order
    from orders.services import account_sync_incoming

    _count_calls()
    rate = float(settings.PROVIDER_DEFAULT_RATE_LIMIT or 0)
    keys = {size: _sandbox(size) for size in SIZES}
    seconds: dict[int, list[float]] = {size: [] for size in SIZES}
    calls: dict[int, int] = {}
    first: dict[int, tuple[float, int]] = {}
    with Server(url) as server:
        base_url = server.url + "/sandbox/tipser/"
        accounts = {}
        for size, key in keys.items():
            account, _m = _account(f"bench-periodic-{size}", key, base_url)
            account.options = {**account.options, "initial_days": 30}
            account.save()
            CALLS[0] = 0
            start = time.perf_counter()
            totals = account_sync_incoming(account=account)  # the history, once
            first[size] = (time.perf_counter() - start, CALLS[0])
            assert totals["created"] == size + 1, totals
            accounts[size] = account
        import requests

        session = requests.Session()
        raw: dict[int, list[float]] = {size: [] for size in SIZES}

        def raw_calls(size: int) -> float:
            cursor = accounts[size].state["sync"]
            start = time.perf_counter()
            for since, states in ((cursor["next_from"], "0,1,6"), (cursor["new_from"], "0,1,2,3,4,6")):
                response = session.get(base_url + "v3/merchants/orders", params={
                    "apiKey": keys[size], "from": since, "states": states,
                    "pageSize": page_size_default(), "pageIndex": 0}, timeout=60)
                response.raise_for_status()
                response.json()
            return time.perf_counter() - start

        for _ in range(REPEAT):
            for size, account in accounts.items():
                account.refresh_from_db()
                raw[size].append(raw_calls(size))
                CALLS[0] = 0
                start = time.perf_counter()
                account_sync_incoming(account=account)
                seconds[size].append(time.perf_counter() - start)
                calls[size] = CALLS[0]
    rows = []
    for size in SIZES:
        rows.append((f"first sync of {size:,} settled + 1 open: s (calls)",
                     f"{first[size][0]:.1f} ({first[size][1]})", "", "once"))
        rows.append((f"periodic sync, {size:,} settled: calls", calls[size], 2, "constant"))
        ours, limit = statistics.median(seconds[size]), statistics.median(raw[size])
        rows.append((f"periodic sync, {size:,} settled: ms (median)", ours * 1000, limit * 1000,
                     f"{limit / ours:.0%} of limit (the 2 raw calls)"))
    growth = statistics.median(seconds[SIZES[-1]]) / statistics.median(seconds[SIZES[0]])
    rows.append((f"time growth {SIZES[0]:,} → {SIZES[-1]:,} settled", f"{growth:.2f}×", "", "≈ 1×"))
    report("tipser periodic sync", db, rows, {
        "settled": SIZES, "rate_limit": rate,
        "periodic_calls": {str(s): calls[s] for s in SIZES},
        "periodic_ms": {str(s): round(statistics.median(seconds[s]) * 1000, 1) for s in SIZES},
        "periodic_ms_runs": {str(s): [round(x * 1000, 1) for x in seconds[s]] for s in SIZES},
        "first_sync_s": {str(s): round(first[s][0], 2) for s in SIZES},
        "first_sync_calls": {str(s): first[s][1] for s in SIZES},
        "limit_ms": {str(s): round(statistics.median(raw[s]) * 1000, 1) for s in SIZES},
        "growth": round(growth, 3),
    })
    for account in accounts.values():
        _wipe(Order.objects.filter(merchant__account=account))


if __name__ == "__main__":
    run_per_database(__file__)
    run(sys.argv[1], sys.argv[2])
