"""Tipser sync of N orders × 2 items from the Tipser sandbox served on loopback, against limits.

dropdesk: ``orders.services.account_sync_incoming`` (the real client over HTTP to the sandbox
run by ``manage.py runserver`` against the same database), orders/s end to end, in variants:
  * defaults: the product's page size and rate limit (PROVIDER_DEFAULT_RATE_LIMIT);
  * no limit: the account's rate limit off (``options.rate_limit = 0``);
  * latency: defaults, against a second server whose sandbox answers after
    SANDBOX_LATENCY_MS=100 ms.
Limits measured beside them, in the same run (alternating, on emptied accounts):
  * fetch-only: the same pages from the same sandbox with a raw ``requests`` loop, JSON parsed,
    no database — one at a time and on the product's page threads (the better is the limit);
  * raw insert: DB-API ``executemany`` of exactly the rows the sync wrote (orders, items,
    events, read back from the database), one transaction per page, no Django;
  * the sync overlaps fetching with writing, so its limit is min(fetch, insert) in orders/s;
    with the rate limit on, also ``rate × page size``; with latency, the parallel fetch-only
    loop against the slow server.
Also: provider calls per order, queries per synced page (50 / 100 / 200).
BENCH_SYNC_ORDERS (default 5,000), BENCH_SYNC_REPEAT (default 2): the median is reported.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import statistics
import sys
import time
from typing import Any

from _common import SELF, Server, cpu_used, db_backend_pid, report, run_per_database, setup_django

N_ORDERS = int(os.environ.get("BENCH_SYNC_ORDERS", "5000"))
REPEAT = int(os.environ.get("BENCH_SYNC_REPEAT", "2"))
LATENCY_MS = 100
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


def _account(name: str, api_key: str, base_url: str, *, page_size: int | None = None,
             rate_limit: float | None = None):  # type: ignore[no-untyped-def]
    """A Tipser account on the sandbox; options left at the product's defaults unless given."""
    from merchants.models import Merchant, ProviderAccount
    from orders.models import Order

    account, _ = ProviderAccount.objects.get_or_create(
        provider="tipser", name=name, defaults={"environment": "sandbox"})
    account.base_url = base_url
    account.credentials = {"api_key": api_key}
    account.options = {k: v for k, v in (("page_size", page_size), ("rate_limit", rate_limit))
                       if v is not None}
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


def page_size_default() -> int:
    from providers.tipser.service import TipserService

    return int(next(o.default for o in TipserService.option_fields if o.name == "page_size"))


def fetch_only(url: str, api_key: str, since: str, page_size: int, threads: int) -> list[Any]:
    """The least a sync must do on the wire: every page, JSON parsed, no database.
    ``threads`` > 1: the first page, then the rest ``threads`` at a time (as the product)."""
    import math
    from concurrent.futures import ThreadPoolExecutor

    import requests

    session = requests.Session()

    def get(index: int) -> Any:
        response = session.get(url + "v3/merchants/orders", params={
            "apiKey": api_key, "from": since, "states": "0,1,2,3,4,6", "pageSize": page_size,
            "pageIndex": index}, timeout=60)
        response.raise_for_status()
        return response.json()

    first = get(0)
    pages = [first]
    total = first["itemsCount"]
    rest = range(1, math.ceil(total / max(1, len(first["items"]))))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            pages += list(pool.map(get, rest))
    else:
        pages += [get(k) for k in rest]
    assert sum(len(p["items"]) for p in pages) == total
    return pages


class RawInsert:
    """DB-API ``executemany`` of exactly the rows a sync wrote (read back from the database),
    one transaction per page, under another merchant. No Django on the timed path."""

    TABLES = (("orders_order", "merchant_id"), ("orders_orderitem", "order_id"),
              ("orders_orderevent", "order_id"))

    def __init__(self, merchant, target, page_size: int) -> None:  # type: ignore[no-untyped-def]
        from django.db import connection

        self.conn = connection
        self.target = target
        self.page_size = page_size
        with connection.cursor() as cur:
            cur.execute("SELECT * FROM orders_order WHERE merchant_id = %s ORDER BY id", [merchant.pk])
            ocols = [c[0] for c in cur.description]
            orders = cur.fetchall()
            ids = [row[ocols.index("id")] for row in orders]
            children = {}
            for table, _fk in self.TABLES[1:]:
                cur.execute(f"SELECT * FROM {table} WHERE order_id IN (SELECT id FROM orders_order "
                            f"WHERE merchant_id = %s) ORDER BY id", [merchant.pk])
                cols = [c[0] for c in cur.description]
                children[table] = (cols, cur.fetchall())
        self.ocols = [c for c in ocols if c != "id"]
        by_order: dict[int, dict[str, list[tuple]]] = {}
        for table, (cols, rows) in children.items():
            k = cols.index("order_id")
            for row in rows:
                by_order.setdefault(row[k], {}).setdefault(table, []).append(row)
        self.children_cols = {t: [c for c in cols if c != "id"] for t, (cols, _r) in children.items()}
        wrap = self._adapter()
        self.pages = []
        for start in range(0, len(orders), page_size):
            chunk = orders[start:start + page_size]
            page_orders, page_children = [], {t: [] for t in children}
            for row in chunk:
                values = dict(zip(ocols, row, strict=True))
                old = values.pop("id")
                values["merchant_id"] = target.pk
                values["reference"] = "RAW-" + str(values["reference"])
                page_orders.append(tuple(wrap(values[c]) for c in self.ocols))
                for table, rows in by_order.get(old, {}).items():
                    cols = children[table][0]
                    for crow in rows:
                        cvalues = dict(zip(cols, crow, strict=True))
                        cvalues.pop("id")
                        page_children[table].append(
                            (values["external_id"], tuple(wrap(cvalues[c]) for c in self.children_cols[table])))
            self.pages.append((page_orders, page_children))
        self.rows = len(orders) + sum(len(r) for _c, r in children.values())
        self.orders = len(orders)
        assert ids

    def _adapter(self):  # type: ignore[no-untyped-def]
        if self.conn.vendor != "postgresql":
            return lambda v: v
        from psycopg.types.json import Jsonb

        return lambda v: Jsonb(v) if isinstance(v, dict | list) else v

    def run(self) -> float:
        """Seconds to insert every page (then the rows are deleted again)."""
        self.conn.ensure_connection()
        raw = self.conn.connection
        mark = "?" if self.conn.vendor == "sqlite" else "%s"
        ext = self.ocols.index("external_id")
        osql = (f"INSERT INTO orders_order ({', '.join(self.ocols)}) "
                f"VALUES ({', '.join([mark] * len(self.ocols))})")
        csql = {t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join([mark] * len(c))})"
                for t, c in self.children_cols.items()}
        oi = self.children_cols["orders_orderitem"].index("order_id")
        oe = self.children_cols["orders_orderevent"].index("order_id")
        index = {"orders_orderitem": oi, "orders_orderevent": oe}
        start = time.perf_counter()
        for page_orders, page_children in self.pages:
            cur = raw.cursor()
            cur.execute("BEGIN")
            cur.executemany(osql, page_orders)
            ids = [o[ext] for o in page_orders]
            cur.execute(f"SELECT external_id, id FROM orders_order WHERE merchant_id = {mark} AND "
                        f"external_id IN ({', '.join([mark] * len(ids))})", [self.target.pk, *ids])
            pk = dict(cur.fetchall())
            for table, rows in page_children.items():
                k = index[table]
                cur.executemany(csql[table], [(*v[:k], pk[e], *v[k + 1:]) for e, v in rows])
            cur.execute("COMMIT")
            cur.close()
        seconds = time.perf_counter() - start
        from orders.models import Order

        _wipe(Order.objects.filter(merchant=self.target))
        return seconds


def queries_per_page(base_url: str, page_size: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order
    from orders.services import account_sync_incoming

    account, _merchant = _account(f"bench-pages-{page_size}", PAGES_KEY, base_url,
                                  page_size=page_size, rate_limit=0)
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


CALLS = [0]


def _count_calls() -> None:
    """Provider calls are counted at the client (list pages and single orders)."""
    from providers.tipser.client import TipserClient

    def counted(real):  # type: ignore[no-untyped-def]
        def call(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            CALLS[0] += 1
            return real(self, *args, **kwargs)
        return call

    TipserClient.list_orders = counted(TipserClient.list_orders)  # type: ignore[method-assign]
    TipserClient.get_order = counted(TipserClient.get_order)  # type: ignore[method-assign]


def run(db: str, url: str) -> None:
    setup_django(url)
    from django.conf import settings

    from orders import snapshots
    from orders.models import Order
    from orders.services import account_sync_incoming
    from providers.tipser import paging

    _count_calls()
    paused = snapshots.gc_paused
    _sandbox_orders(SYNC_KEY, N_ORDERS)
    _sandbox_orders(PAGES_KEY, QUERY_ORDERS)
    since = timezone_since(SYNC_KEY)
    # exactly N orders: the sandbox holds at least N; ask up to the N-th order's day
    from providers.tipser.models import SandboxOrder

    n_have = SandboxOrder.objects.filter(merchant__api_key=SYNC_KEY).count()
    page = page_size_default()
    rate = float(settings.PROVIDER_DEFAULT_RATE_LIMIT or 0)
    threads = paging.MAX_PARALLEL_PAGES
    with Server(url) as server, Server(url, SANDBOX_LATENCY_MS=str(LATENCY_MS)) as slow:
        base_url = server.url + "/sandbox/tipser/"
        slow_url = slow.url + "/sandbox/tipser/"
        accounts = {
            "defaults": _account("bench-sync", SYNC_KEY, base_url),
            "no_limit": _account("bench-sync-nolimit", SYNC_KEY, base_url, rate_limit=0),
            "latency": _account("bench-sync-latency", SYNC_KEY, slow_url),
            # A/B: the same as no_limit with the garbage collector left on (config.gcpause)
            "no_limit_gc_on": _account("bench-sync-gc-on", SYNC_KEY, base_url, rate_limit=0),
        }
        raw_target = _account("bench-sync-raw", SYNC_KEY, base_url)[1]
        runs: dict[str, list[float]] = {k: [] for k in
                                        [*accounts, "fetch_1", f"fetch_{threads}", "insert",
                                         "latency_fetch_1", f"latency_fetch_{threads}"]}
        calls: dict[str, int] = {}
        # CPU seconds per run of this process, the sandbox server and the PostgreSQL backend
        cpu: dict[str, list[dict[str, float]]] = {k: [] for k in [*accounts, f"fetch_{threads}"]}
        raw_insert: RawInsert | None = None
        iso = since.date().isoformat()
        every = Order.objects.filter(merchant__account__in=[a for a, _m in accounts.values()])
        for _attempt in range(REPEAT):
            for name, (account, _merchant) in accounts.items():
                # every variant starts alike: no other account holds the same order numbers
                # (which would make this one generate references)
                _wipe(every)
                account.state = {}
                CALLS[0] = 0
                snapshots.gc_paused = contextlib.nullcontext if name == "no_limit_gc_on" else paused
                pids = {"process": SELF, "db_backend": db_backend_pid(),
                        "sandbox": (slow if name == "latency" else server).proc.pid}
                with cpu_used(pids) as used:
                    start = time.perf_counter()
                    totals = account_sync_incoming(account=account, since=since)
                    runs[name].append(time.perf_counter() - start)
                cpu[name].append(used)
                snapshots.gc_paused = paused
                calls[name] = CALLS[0]
                assert totals["created"] == n_have, (name, totals)
                if name == "no_limit" and raw_insert is None:  # exactly the rows it wrote
                    raw_insert = RawInsert(accounts["no_limit"][1], raw_target, page)
            for k in (1, threads):
                with cpu_used({"process": SELF, "sandbox": server.proc.pid,
                               "db_backend": None}) as used:
                    start = time.perf_counter()
                    fetch_only(base_url, SYNC_KEY, iso, page, k)
                    runs[f"fetch_{k}"].append(time.perf_counter() - start)
                if k == threads:
                    cpu[f"fetch_{k}"].append(used)
                start = time.perf_counter()
                fetch_only(slow_url, SYNC_KEY, iso, page, k)
                runs[f"latency_fetch_{k}"].append(time.perf_counter() - start)
            assert raw_insert is not None
            runs["insert"].append(raw_insert.run())

        # a second sync of the same orders (nothing changed)
        account = accounts["no_limit"][0]
        _wipe(every)
        account.state = {}
        account_sync_incoming(account=account, since=since)
        account.state = {}
        start = time.perf_counter()
        again = account_sync_incoming(account=account, since=since)
        resync_s = time.perf_counter() - start
        assert again["unchanged"] == n_have, again

        per_page = {size: queries_per_page(base_url, size) for size in (50, 100, 200)}
    n = n_have
    rate_s = {k: n / statistics.median(v) for k, v in runs.items()}
    fetch_limit = max(rate_s["fetch_1"], rate_s[f"fetch_{threads}"])
    insert_limit = rate_s["insert"]
    cpu_limit = min(fetch_limit, insert_limit)
    rate_limit = rate * page if rate else float("inf")
    latency_fetch = max(rate_s["latency_fetch_1"], rate_s[f"latency_fetch_{threads}"])
    limits = {
        "no_limit": cpu_limit,
        "no_limit_gc_on": cpu_limit,
        "defaults": min(cpu_limit, rate_limit),
        "latency": min(cpu_limit, rate_limit, latency_fetch),
    }
    rows: list[tuple[str, Any, Any, str]] = [
        (f"fetch-only orders/s (1 / {threads} threads)",
         f"{rate_s['fetch_1']:,.0f} / {rate_s[f'fetch_{threads}']:,.0f}", fetch_limit, "limit"),
        ("raw DB-API insert orders/s", rate_s["insert"], insert_limit,
         f"limit ({raw_insert.rows if raw_insert else 0} rows)"),
        (f"rate limit × page size ({rate:g}/s × {page})", "", rate_limit, "limit (defaults)"),
        (f"fetch-only at {LATENCY_MS} ms (1 / {threads} threads)",
         f"{rate_s['latency_fetch_1']:,.0f} / {rate_s[f'latency_fetch_{threads}']:,.0f}",
         latency_fetch, "limit (latency)"),
    ]
    for name in accounts:
        ours = rate_s[name]
        rows.append((f"sync [{name}] orders/s", ours, limits[name],
                     f"{ours / limits[name]:.0%} of limit; {calls[name] / n:.4f} calls/order"))
    # Where the CPU goes: the sync runs in one process (the GIL: at most one core for its
    # Python), the sandbox (the provider) and PostgreSQL in others, all on this machine's cores.
    cpu_ms = {k: {part: statistics.median(run[part] for run in v) * 1000 / n for part in v[0]}
              for k, v in cpu.items() if v}
    busy = {k: cpu_ms[k]["process"] / (statistics.median(runs[k]) * 1000 / n) for k in cpu_ms}
    for name in ("no_limit", "defaults", "latency", f"fetch_{threads}"):
        ms = cpu_ms[name]
        rows.append((f"CPU ms/order [{name}]: this process / sandbox / PG backend",
                     f"{ms['process']:.2f} / {ms['sandbox']:.2f} / {ms['db_backend']:.2f}", "",
                     f"this process busy {busy[name]:.0%} of one core"))
    rows.append(("gc paused per page vs not (no limit)", f"{rate_s['no_limit'] / rate_s['no_limit_gc_on']:.2f}×",
                 "", "A/B in this run (config.gcpause)"))
    rows.append(("re-sync unchanged orders/s", n / resync_s, "", "—"))
    for size, (qpp, total, pages) in per_page.items():
        rows.append((f"queries per page of {size}", qpp, "", f"≤ 10, equal ({total} q / {pages} p)"))
    report("tipser sync", db, rows, {
        "orders": n, "page_size": page, "rate_limit": rate, "latency_ms": LATENCY_MS, "runs": REPEAT,
        "page_threads": threads,
        "orders_per_s": {k: round(v) for k, v in rate_s.items()},
        "limit_orders_per_s": {k: (round(v) if v != float("inf") else None) for k, v in limits.items()},
        "ratio": {k: round(rate_s[k] / v, 3) for k, v in limits.items()},
        "calls_per_order": {k: round(c / n, 4) for k, c in calls.items()},
        "resync_orders_per_s": round(n / resync_s),
        "cpu_ms_per_order": {k: {part: round(ms, 3) for part, ms in sorted(v.items())}
                             for k, v in cpu_ms.items()},
        "process_busy": {k: round(v, 3) for k, v in busy.items()},
        **{f"queries_per_page_{size}": round(v[0], 2) for size, v in per_page.items()},
    })
    for account, _m in accounts.values():
        _wipe(Order.objects.filter(merchant__account=account))


if __name__ == "__main__":
    run_per_database(__file__)
    run(sys.argv[1], sys.argv[2])
