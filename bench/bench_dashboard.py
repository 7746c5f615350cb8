"""Admin home (the dashboard) with 100,000 orders: p50 latency and query count.

Target (issue 19): a constant number of queries, fast on 100k orders (aggregate queries).
"""

from __future__ import annotations

import sys

from _common import analyze, percentile, report, run_per_database, setup_django, timed

N_ORDERS = 100_000
REPEAT = 15


def run(db: str, url: str) -> None:
    setup_django(url)
    from _data import ensure_orders
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order

    ensure_orders(N_ORDERS)
    analyze()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    client.get("/admin/")  # warm
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/admin/")
        assert response.status_code == 200
        response.content  # noqa: B018
    samples = timed(lambda: client.get("/admin/").content, REPEAT)
    p50 = percentile(samples, 50)
    rows = [("dashboard p50 ms", p50, "", "fast"), ("dashboard queries", len(ctx.captured_queries), "", "constant")]
    if "-v" in sys.argv:
        for q in ctx.captured_queries:
            print(f"  {q['time']}s {q['sql'][:200]}")
    report("admin dashboard", db, rows, {"dashboard_p50_ms": round(p50, 1),
                                         "dashboard_queries": len(ctx.captured_queries),
                                         "orders": Order.objects.count()})


if __name__ == "__main__":
    run_per_database(__file__)
    run(sys.argv[1], sys.argv[2])
