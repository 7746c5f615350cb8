"""Admin order changelist with 100,000 orders: p50 latency and query count.

Target: ≤ 150 ms p50 and ≤ 12 queries. Ceiling: none (the page itself is the product).
"""

from __future__ import annotations

import subprocess
import sys

from _common import ROOT, database_urls, percentile, report, setup_django, timed

N_ORDERS = 100_000
REPEAT = 30


def run(db: str, url: str) -> None:
    setup_django(url)
    from _data import ensure_orders
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    ensure_orders(N_ORDERS)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    pages = {
        "changelist": "/admin/orders/order/",
        "filtered (state=failed)": "/admin/orders/order/?state__exact=failed",
        "search (reference)": "/admin/orders/order/?q=BENCH-0004242",
    }
    rows, figures = [], {}
    for label, path in pages.items():
        client.get(path)  # warm
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200, response.status_code
        samples = timed(lambda p=path: client.get(p), REPEAT)
        p50 = percentile(samples, 50)
        rows.append((f"{label} p50 ms", p50, "", "≤ 150 ms"))
        rows.append((f"{label} queries", len(ctx.captured_queries), "", "≤ 12"))
        key = label.split(" ")[0]
        figures[f"{key}_p50_ms"] = round(p50, 1)
        figures[f"{key}_p95_ms"] = round(percentile(samples, 95), 1)
        figures[f"{key}_queries"] = len(ctx.captured_queries)
    figures["orders"] = N_ORDERS
    report("admin order changelist", db, rows, figures)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        run(sys.argv[1], sys.argv[2])
    else:
        for db, url in database_urls().items():
            subprocess.run([sys.executable, __file__, db, url], cwd=ROOT / "bench", check=False)
