"""Admin home (the dashboard) with 100,000 orders, against the same page with 1,000 orders.

Each database is measured twice, in two processes: a small data set (1,000 orders, its own
database) and the full one (100,000). The limit is the same page over 1,000 rows: p50 at 100k
must stay within 1.5× of p50 at 1k (issue 20), with the same number of queries (constant).
"""

from __future__ import annotations

import json
import subprocess
import sys

from _common import (
    BENCH_DIR,
    ROOT,
    analyze,
    database_urls,
    percentile,
    report,
    setup_django,
    sibling_url,
    timed,
)

N_ORDERS = 100_000
SMALL = 1_000
REPEAT = 15


def run(db: str, url: str, n_orders: int = N_ORDERS) -> None:
    setup_django(url)
    from _data import ensure_orders
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from orders import dashboard
    from orders.models import Order

    ensure_orders(n_orders)
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
    queries = len(ctx.captured_queries)
    samples = timed(lambda: client.get("/admin/").content, REPEAT)
    p50 = percentile(samples, 50)
    # its parts alone (each one query): where the time goes
    now = timezone.now()
    parts = {
        "work counts": lambda: dashboard.work_counts(now=now),
        "orders per day": lambda: dashboard.orders_per_day(now=now),
        "failures": lambda: dashboard.failures_per_provider(now=now),
    }
    part_ms = {name: percentile(timed(fn, REPEAT), 50) for name, fn in parts.items()}
    figures = {"dashboard_p50_ms": round(p50, 1), "dashboard_p95_ms": round(percentile(samples, 95), 1),
               "dashboard_queries": queries, "orders": Order.objects.count(),
               "parts_p50_ms": {k: round(v, 1) for k, v in part_ms.items()}}
    if "-v" in sys.argv:
        for q in ctx.captured_queries:
            print(f"  {q['time']}s {q['sql'][:200]}")
    small_file = BENCH_DIR / f"dashboard-{db}-{SMALL}.json"
    if n_orders == SMALL:
        small_file.write_text(json.dumps(figures))
        print(f"({db}: {figures['orders']:,} orders: {p50:.1f} ms, {queries} queries; kept for the 100k run)")
        return
    small = json.loads(small_file.read_text()) if small_file.exists() else None
    ratio = p50 / max(0.1, small["dashboard_p50_ms"]) if small else float("nan")
    rows: list[tuple[str, object, object, str]] = [
        ("dashboard p50 ms", p50, small["dashboard_p50_ms"] if small else "",
         f"limit: same page at {SMALL:,} orders; ratio {ratio:.2f}× (≤ 1.5×)"),
        ("dashboard queries", queries, small["dashboard_queries"] if small else "", "constant"),
    ]
    for name, ms in part_ms.items():
        rows.append((f"— {name} p50 ms", ms, small["parts_p50_ms"][name] if small else "", ""))
    if small:
        figures["small_orders"] = small["orders"]
        figures["small_p50_ms"] = small["dashboard_p50_ms"]
        figures["ratio_to_small"] = round(ratio, 2)
        figures["same_queries"] = queries == small["dashboard_queries"]
    report("admin dashboard", db, rows, figures)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        for db, url in database_urls().items():
            for size, target in ((SMALL, sibling_url(db, url, "_1k")), (N_ORDERS, url)):
                subprocess.run([sys.executable, __file__, db, target, str(size)],
                               cwd=ROOT / "bench", check=False)
        sys.exit(0)
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else N_ORDERS)
