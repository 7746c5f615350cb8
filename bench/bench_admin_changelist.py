"""Admin order changelist with 100,000 orders, against the same pages with 1,000 orders.

Each database is measured twice, in two processes: a small data set (1,000 orders, its own
database) and the full one (100,000). The limit of a list page is the same page over 1,000
rows: p50 at 100k must stay within 1.5× of p50 at 1k, with the same number of queries.
Also ≤ 150 ms p50 and ≤ 12 queries; the status-tab counts are timed on their own beside it.
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
REPEAT = 30


def run(db: str, url: str, n_orders: int = N_ORDERS) -> None:
    setup_django(url)
    from _data import ensure_orders
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orders import selectors
    from orders.models import Order

    ensure_orders(n_orders)
    analyze()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    pages = {
        "changelist": "/admin/orders/order/",
        "tab (needs action)": "/admin/orders/order/?tab=needs_action",
        "filtered (state=failed)": "/admin/orders/order/?state__exact=failed",
        "search (reference)": "/admin/orders/order/?q=BENCH-0000420",  # in both data sets
        "search_text (part of a name)": "/admin/orders/order/?q=Customer%2099999",
        # a deep page: page 100 of 1,000 (100k orders), the last page (5 of 10) of 1,000 orders
        "page 100": f"/admin/orders/order/?p={min(100, n_orders // 200)}",
    }
    rows, figures = [], {}
    for label, path in pages.items():
        client.get(path)  # warm
        # The test client closes the connection at the end of each request; capture on a
        # connection that is already open and keep it (the queries log lives on the wrapper,
        # but CaptureQueriesContext must wrap the request, not only the response object).
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            response.content  # noqa: B018 - render before leaving the context
        queries = len(ctx.captured_queries)
        samples = timed(lambda p=path: client.get(p).content, REPEAT)
        p50 = percentile(samples, 50)
        target = "(not in the issue)" if label.startswith("search_text") else "≤ 150 ms"
        rows.append((f"{label} p50 ms", p50, "", target))
        rows.append((f"{label} queries", queries, "", "≤ 12"))
        key = label.split(" ")[0]
        figures[f"{key}_p50_ms"] = round(p50, 1)
        figures[f"{key}_p95_ms"] = round(percentile(samples, 95), 1)
        figures[f"{key}_queries"] = queries
        if label == "changelist" and "-v" in sys.argv:
            for q in ctx.captured_queries:
                print(f"  {q['time']}s {q['sql'][:160]}")
    tab_ms = percentile(timed(lambda: selectors.order_tab_counts(
        Order.objects.all(), cap=selectors.TAB_COUNT_CAP), 10), 50)
    count_ms = percentile(timed(lambda: Order.objects.count(), 10), 50)
    rows.append(("tab counts alone p50 ms", tab_ms, count_ms, "ceiling: COUNT(*)"))
    figures["tab_counts_p50_ms"] = round(tab_ms, 1)
    figures["count_all_p50_ms"] = round(count_ms, 1)
    figures["orders"] = Order.objects.count()
    small_file = BENCH_DIR / f"admin-{db}-{SMALL}.json"
    if n_orders == SMALL:
        small_file.write_text(json.dumps(figures))
        print(f"({db}: {figures['orders']:,} orders; p50 per page kept for the 100k run)")
        return
    if small_file.exists():
        small = json.loads(small_file.read_text())
        figures["small_orders"] = small["orders"]
        figures["ratio_to_small"] = {}
        for label in pages:
            key = label.split(" ")[0]
            ratio = figures[f"{key}_p50_ms"] / max(0.1, small[f"{key}_p50_ms"])
            figures["ratio_to_small"][key] = round(ratio, 2)
            same = figures[f"{key}_queries"] == small[f"{key}_queries"]
            rows.append((f"{label}: p50 vs {small['orders']:,} orders", f"{ratio:.2f}×",
                         small[f"{key}_p50_ms"], "≤ 1.5×" + ("" if same else " (queries differ!)")))
    report("admin order changelist", db, rows, figures)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        for db, url in database_urls().items():
            for size, target in ((SMALL, sibling_url(db, url, "_1k")), (N_ORDERS, url)):
                subprocess.run([sys.executable, __file__, db, target, str(size)],
                               cwd=ROOT / "bench", check=False)
        sys.exit(0)
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else N_ORDERS)
