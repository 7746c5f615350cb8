"""Bulk place 1,000 orders from the admin (the ``place_selected`` action) through a real worker.

dropdesk: the admin action's request time (it creates a BulkRun and enqueues one task per
order on commit), then orders/s until every order of the run is placed by a real
``celery worker`` subprocess (4 threads on SQLite as ``make run``; 4 prefork processes on
PostgreSQL as the Procfile) talking to the Brandsdistribution sandbox served by
``manage.py runserver --noreload`` on loopback, against the same database.
Ceiling, same run, same sandbox: a raw loop (one ``requests.Session``) of the same create-order
calls (the same documents, under other keys); beside it a raw loop of the same calls a
placement makes (create + status by key). CPU per order of the worker (with its pool) and of
the sandbox, read from /proc.
Broker: Redis (BENCH_BROKER_URL, default redis://127.0.0.1:6379/14) when it answers, else the
embedded filesystem broker under the bench folder.
Variants: "no limit" (``rate_limit`` 0, ``reserve_first`` off: create and status by key) on
N_ORDERS, the same spread over 4 accounts (one account's placements take turns), and "defaults" (the product's rate limit and ``reserve_first`` on) on N_DEFAULTS orders,
whose limit is ``rate / calls per order`` (calls counted on the orders' timelines).
The limit of the no-limit variant is the raw loop at the worker's concurrency (4).
Targets: request ≤ 1 s; worker orders/s ≥ 80 % of the raw loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from _common import (
    BENCH_DIR,
    ROOT,
    Server,
    cpu_used,
    report,
    run_per_database,
    server_env,
    setup_django,
)

N_ORDERS = int(os.environ.get("BENCH_BULK_ORDERS", "1000"))
N_DEFAULTS = int(os.environ.get("BENCH_BULK_DEFAULT_ORDERS", "25"))
STOCK_ID = "1578"
API_KEY, PASSWORD = "demo-bd-json", "demo-bd-password"  # a sandbox user (providers/brandsdistribution/sandbox.py)
WORKERS = 4


def broker_url() -> str:
    url = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
    if url.startswith("redis"):
        try:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
            return url
        except Exception as exc:
            print(f"(Redis {url} unavailable: {exc}; using the filesystem broker)")
    return "filesystem://"


def broker_env(url: str) -> dict[str, str]:
    env = {"CELERY_BROKER_URL": url}
    if url.startswith("filesystem"):
        env["CELERY_BROKER_FOLDER"] = str(BENCH_DIR / f"broker-{os.getpid()}")
    return env


def drafts(merchant, prefix: str, n: int = N_ORDERS) -> list[int]:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from orders.models import Order, OrderItem

    orders = Order.objects.bulk_create([
        Order(merchant=merchant, reference=f"{prefix}-{os.getpid()}-{int(time.time())}-{k:04d}",
              contact_name="ACME srl", contact_email="acme@example.test", phone_prefix="+39",
              phone_number="0112838474", address_line1="Via Roma 1", city="Torino", region="TO",
              postal_code="10100", country="IT", currency="EUR", ordered_at=timezone.now(),
              provider_options={"autoConfirm": True})
        for k in range(n)
    ])
    OrderItem.objects.bulk_create([
        OrderItem(order_id=o.pk, sku=STOCK_ID, product_id=STOCK_ID, name="T-shirt Sand, M",
                  quantity=1, unit_price="14.50") for o in orders
    ])
    return [o.pk for o in orders]


def raw_loop(base_url: str, orders, threads: int = 1,  # type: ignore[no-untyped-def]
             status: bool = False) -> float:
    """Seconds for the same create calls: one after the other on one session, or split over
    ``threads`` sessions (the worker's concurrency). ``status``: each create followed by the
    status by key, as a placement makes them (the same calls per order as the worker)."""
    from urllib.parse import quote

    import requests

    from providers.brandsdistribution import mapping
    from providers.brandsdistribution.client import ORDER_CREATE_PATH, STATUS_BY_KEY_PATH

    bodies = []
    for order in orders:
        doc = mapping.order_document(order, list(order.items.all()))
        doc["key"] = f"CEIL{threads}{'S' if status else ''}-" + doc["key"]
        bodies.append((doc["key"], mapping.order_body(doc, mapping.JSON)))
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    base = base_url.rstrip("/")

    def send(chunk: list[tuple[str, bytes]]) -> None:
        session = requests.Session()
        session.auth = (API_KEY, PASSWORD)
        for key, body in chunk:
            response = session.post(base + ORDER_CREATE_PATH, data=body,
                                    headers=headers, timeout=30)
            assert response.status_code == 200, (response.status_code, response.text[:300])
            if status:
                found = session.get(base + STATUS_BY_KEY_PATH.format(key=quote(key, safe="")),
                                    headers=headers, timeout=30)
                assert found.status_code == 200 and found.json()["orders"], found.text[:300]

    start = time.perf_counter()
    if threads == 1:
        send(bodies)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send, [bodies[k::threads] for k in range(threads)]))
    return time.perf_counter() - start


def run(db: str, url: str) -> None:
    broker = broker_url()
    os.environ.update(broker_env(broker))
    setup_django(url)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from merchants import services as merchant_services
    from merchants.models import Merchant, ProviderAccount
    from orders.models import BulkRun, BulkRunItem, Order, OrderEvent
    from providers.brandsdistribution.models import SandboxStock
    from providers.brandsdistribution.sandbox import ensure_stock

    ensure_stock()
    SandboxStock.objects.filter(stock_id=int(STOCK_ID)).update(available=10**9)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-bulk", defaults={"is_staff": True, "is_superuser": True})
    with Server(url, **broker_env(broker)) as server:
        base_url = server.url + "/sandbox/brandsdistribution"
        account, _ = ProviderAccount.objects.get_or_create(
            provider="brandsdistribution", name="bench-bulk", defaults={"environment": "sandbox"})
        account.base_url = base_url
        account.credentials = {"api_key": API_KEY, "password": PASSWORD}
        account.options = {"wire_format": "json", "reserve_first": False, "rate_limit": 0}
        account.save()
        defaults_account, _ = ProviderAccount.objects.get_or_create(
            provider="brandsdistribution", name="bench-bulk-defaults",
            defaults={"environment": "sandbox"})
        defaults_account.base_url = base_url
        defaults_account.credentials = {"api_key": API_KEY, "password": PASSWORD}
        defaults_account.options = {"wire_format": "json"}  # the product's defaults
        defaults_account.save()
        # The same 1,000 orders spread over WORKERS accounts: Brandsdistribution placements of
        # one account take turns (its reservation and its "growing" order are one per account:
        # reservations.placement_turn), those of different accounts run side by side.
        spread = []
        for k in range(WORKERS):
            acct, _ = ProviderAccount.objects.get_or_create(
                provider="brandsdistribution", name=f"bench-bulk-spread-{k}",
                defaults={"environment": "sandbox"})
            acct.base_url = base_url
            acct.credentials = {"api_key": API_KEY, "password": PASSWORD}
            acct.options = {"wire_format": "json", "reserve_first": False, "rate_limit": 0}
            acct.save()
            spread.append((f"bench bulk spread {k}", acct))
        merchants = []
        for name, acct in (("bench bulk", account), ("bench bulk ceiling", account),
                           ("bench bulk defaults", defaults_account), *spread):
            merchant = Merchant.objects.filter(account=acct, name=name).first()
            if merchant is None:
                merchant = merchant_services.merchant_create(account=acct, name=name,
                                                             external_id=name.replace(" ", "-"))
                merchant_services.merchant_authorize(merchant=merchant, how="bench")
            # the previous run's orders: the data set stays the same size from run to run
            BulkRunItem.objects.filter(order__merchant=merchant).delete()
            Order.objects.filter(merchant=merchant).delete()
            merchants.append(merchant)
        pks = drafts(merchants[0], "BULK")
        ceiling_pks = drafts(merchants[1], "BULKC")
        default_pks = drafts(merchants[2], "BULKD", N_DEFAULTS)
        spread_pks = [pk for k, m in enumerate(merchants[3:])
                      for pk in drafts(m, f"BULKS{k}", N_ORDERS // WORKERS)]
        # What an operator does: filter the list, "select all", run the action (select_across;
        # 1,000 ticked boxes would exceed DATA_UPLOAD_MAX_NUMBER_FIELDS).

        # the product's worker for each database: `make run` (SQLite) runs a threads pool,
        # production (PostgreSQL, the Procfile) a prefork pool — processes, not one GIL
        pool = "threads" if db == "sqlite" else "prefork"
        log = open(BENCH_DIR / "worker.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", pool, "-c", str(WORKERS),
             "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=server_env(url, **broker_env(broker)), stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(4)  # the worker connects to the broker
            client = Client()
            client.force_login(user)

            def place_all(*chosen) -> tuple[float, float, int, BulkRun]:  # type: ignore[no-untyped-def]
                """The action run on each merchant's drafts in turn, then wait until every
                order is settled: (first request s, first request-to-last-placed s, its queries,
                the first run)."""
                runs_, request_s, request_queries, start = [], 0.0, 0, 0.0
                for merchant in chosen:
                    changelist = f"/admin/orders/order/?merchant={merchant.pk}&state__exact=draft"
                    first = Order.objects.filter(merchant=merchant).order_by("pk").first()
                    client.get(changelist)
                    with CaptureQueriesContext(connection) as ctx:
                        began = time.perf_counter()
                        response = client.post(changelist, {
                            "action": "place_selected", "index": 0, "select_across": "1",
                            "_selected_action": [str(first.pk)]})
                        took = time.perf_counter() - began
                    assert response.status_code == 302, (response.status_code, response.content[:500])
                    if not runs_:
                        request_s, request_queries, start = took, len(ctx.captured_queries), began
                    runs_.append(BulkRun.objects.filter(actor=user).order_by("-id").first())
                deadline = time.time() + 600
                while time.time() < deadline:
                    if not BulkRunItem.objects.filter(
                            run__in=runs_, outcome=BulkRunItem.Outcome.QUEUED).exists():
                        break
                    time.sleep(0.2)
                return request_s, time.perf_counter() - start, request_queries, runs_[0]

            processes = {"worker": worker.pid, "sandbox": server.proc.pid}
            with cpu_used(processes, children=True) as cpu_one:
                request_s, worker_s, request_queries, run_ = place_all(merchants[0])
            with cpu_used(processes, children=True) as cpu_spread:
                _r, spread_s, _q, _run = place_all(*merchants[3:])
            _r, defaults_s, _q, defaults_run = place_all(merchants[2])
        finally:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
            log.close()
        outcomes = {o: BulkRunItem.objects.filter(run=run_, outcome=o).count()
                    for o in BulkRunItem.Outcome.values}
        # accepted by the provider: "placed", or further when the placement reads the order's
        # status back (Brandsdistribution's sandbox answers "in progress")
        accepted = ("placed", "in_progress", "partially_shipped", "shipped", "completed")
        placed = Order.objects.filter(pk__in=pks, state__in=accepted).count()
        default_placed = Order.objects.filter(pk__in=default_pks, state__in=accepted).count()
        spread_placed = Order.objects.filter(pk__in=spread_pks, state__in=accepted).count()
        default_outcomes = {o: BulkRunItem.objects.filter(run=defaults_run, outcome=o).count()
                            for o in BulkRunItem.Outcome.values}
        calls = {name: OrderEvent.objects.filter(order_id__in=ids, kind=OrderEvent.Kind.PROVIDER_CALL)
                 .count() / max(1, len(ids)) for name, ids in (("no_limit", pks), ("defaults", default_pks))}
        ceiling_orders = list(Order.objects.filter(pk__in=ceiling_pks).prefetch_related("items")
                              .select_related("merchant__account"))
        ceiling_s = raw_loop(base_url, ceiling_orders)
        with cpu_used({"sandbox": server.proc.pid}) as cpu_raw:
            parallel_s = raw_loop(base_url, ceiling_orders, threads=WORKERS)
        same_calls_s = raw_loop(base_url, ceiling_orders, threads=WORKERS, status=True)
    rate = float(settings.PROVIDER_DEFAULT_RATE_LIMIT or 0)
    ours, ceil, par = placed / worker_s, N_ORDERS / ceiling_s, N_ORDERS / parallel_s
    same = N_ORDERS / same_calls_s
    spread_rate = spread_placed / spread_s
    cpu_ms = {"worker": cpu_one["worker"] * 1000 / max(1, placed),
              "sandbox": cpu_one["sandbox"] * 1000 / max(1, placed),
              "sandbox_raw_loop": cpu_raw["sandbox"] * 1000 / N_ORDERS,
              "worker_spread": cpu_spread["worker"] * 1000 / max(1, spread_placed),
              "sandbox_spread": cpu_spread["sandbox"] * 1000 / max(1, spread_placed)}
    ours_defaults = default_placed / defaults_s
    defaults_limit = min(par, rate / calls["defaults"]) if rate and calls["defaults"] else par
    rows = [
        ("admin action request ms", request_s * 1000, "", "≤ 1,000 ms"),
        ("admin action queries", request_queries, "", "—"),
        ("[no limit] placed through the worker", placed, N_ORDERS, f"{N_ORDERS} ({outcomes})"),
        ("[no limit] orders/s", ours, par, f"{ours / par:.0%} of the {WORKERS}-thread raw loop"),
        ("[no limit] provider calls per order", calls["no_limit"], 1, "reserve_first off"),
        (f"  {WORKERS}-thread raw loop of the same calls (create + status by key)", "", same,
         f"{ours / same:.0%}"),
        ("  CPU ms/order: worker / sandbox (raw loop: sandbox)",
         f"{cpu_ms['worker']:.1f} / {cpu_ms['sandbox']:.1f}", f"{cpu_ms['sandbox_raw_loop']:.1f}",
         f"{pool} worker: {cpu_ms['worker'] * ours / 1000:.2f} cores busy"),
        ("  1-thread raw loop orders/s (one account's placements take turns)", "", ceil,
         f"{ours / ceil:.0%}"),
        (f"[no limit, {WORKERS} accounts] orders/s", spread_rate, par,
         f"{spread_rate / par:.0%} of the {WORKERS}-thread raw loop; {spread_rate / same:.0%} of "
         f"the same calls ({spread_placed} placed)"),
        ("  CPU ms/order: worker / sandbox",
         f"{cpu_ms['worker_spread']:.1f} / {cpu_ms['sandbox_spread']:.1f}", "",
         f"{pool} worker: {cpu_ms['worker_spread'] * spread_rate / 1000:.2f} cores busy"),
        (f"[defaults] placed ({N_DEFAULTS})", default_placed, N_DEFAULTS, f"({default_outcomes})"),
        ("[defaults] provider calls per order", calls["defaults"], "", "reserve_first on"),
        (f"[defaults] orders/s (limit: {rate:g} calls/s ÷ calls/order)", ours_defaults, defaults_limit,
         f"{ours_defaults / defaults_limit:.0%} of limit"),
    ]
    report("bulk place from admin", db, rows, {
        "orders": N_ORDERS, "broker": broker.split("://")[0], "worker_threads": WORKERS,
        "worker_pool": pool,
        "request_ms": round(request_s * 1000, 1), "request_queries": request_queries,
        "placed": placed, "outcomes": outcomes, "orders_per_s": round(ours, 1),
        "ceiling_orders_per_s": round(ceil, 1), "ratio": round(ours / par, 3),
        "parallel_ceiling_orders_per_s": round(par, 1), "parallel_ratio": round(ours / par, 3),
        "same_calls_ceiling_orders_per_s": round(same, 1), "same_calls_ratio": round(ours / same, 3),
        "spread_accounts": WORKERS, "spread_placed": spread_placed,
        "spread_orders_per_s": round(spread_rate, 1), "spread_ratio": round(spread_rate / par, 3),
        "spread_same_calls_ratio": round(spread_rate / same, 3),
        "cpu_ms_per_order": {k: round(v, 2) for k, v in cpu_ms.items()},
        "calls_per_order": {k: round(v, 2) for k, v in calls.items()}, "rate_limit": rate,
        "defaults_orders": N_DEFAULTS, "defaults_placed": default_placed,
        "defaults_orders_per_s": round(ours_defaults, 2), "defaults_limit_orders_per_s": round(defaults_limit, 2),
        "defaults_ratio": round(ours_defaults / defaults_limit, 3),
    })


if __name__ == "__main__":
    run_per_database(__file__)
    run(sys.argv[1], sys.argv[2])
