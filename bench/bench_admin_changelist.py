"""Admin order changelist with 100,000 orders, against the same pages with 1,000 orders.

The limit of a list page is the same page over 1,000 rows (its own database): p50 at 100k must
stay within 1.5× of p50 at 1k (issue 20), with the same number of queries. The two data sets
are served by two processes and sampled in turn (``_sides.py``), so load on the shared machine
falls on both alike. A deep page is compared with the deepest page the small set has (the
cost of ``OFFSET`` grows with the page number, not with the table: shown for information).
The status-tab counts are timed alone beside it — capped at ``selectors.TAB_COUNT_CAP`` as the
list shows them, and exact for information.
"""

from __future__ import annotations

import sys
from typing import Any

from _common import analyze, database_urls, report, setup_django, sibling_url
from _sides import Side, p50, serve, side_by_side

N_ORDERS = 100_000
SMALL = 1_000
REPEAT = 21


def pages(n_orders: int) -> dict[str, str]:
    return {
        "changelist": "/admin/orders/order/",
        "tab (needs action)": "/admin/orders/order/?tab=needs_action",
        "tab (to ship)": "/admin/orders/order/?tab=to_ship",
        "filtered (state=failed)": "/admin/orders/order/?state__exact=failed",
        "search (reference)": "/admin/orders/order/?q=BENCH-0000420",  # in both data sets
        "search_text (part of a name)": "/admin/orders/order/?q=Customer%2099999",
        # a deep page: page 100 of 2,000 (100k orders), the last page (20) of 1,000 orders
        "page 100": f"/admin/orders/order/?p={min(100, n_orders // 50)}",
    }


def setup(db: str, url: str, n_orders: int) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    setup_django(url)
    from _data import ensure_orders
    from django.contrib.auth import get_user_model
    from django.test import Client

    from orders import selectors
    from orders.models import Order

    ensure_orders(n_orders)
    analyze()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    calls = {
        "tab counts (capped)": lambda: selectors.order_tab_counts(
            Order.objects.all(), cap=selectors.TAB_COUNT_CAP),
        "tab counts (exact, not shown)": lambda: selectors.order_tab_counts(Order.objects.all()),
        "COUNT(*)": lambda: Order.objects.count(),
    }
    return client, calls, {"orders": Order.objects.count()}


def run(db: str, url: str) -> None:
    script = __file__
    small = Side(script, db, sibling_url(db, url, "_1k"), SMALL)
    big = Side(script, db, url, N_ORDERS)
    try:
        sides = [small, big]
        info = [s.ask(info=True) for s in sides]
        big_pages, small_pages = pages(N_ORDERS), pages(SMALL)
        queries = {label: [s.ask(queries=p[label])["n"] for s, p in ((small, small_pages),
                                                                   (big, big_pages))]
                   for label in big_pages}
        if "-v" in sys.argv:
            for line in big.ask(queries=big_pages["changelist"])["sql"]:
                print("  " + line)
        # each side gets its own path (the deep page differs); one question per label
        samples: dict[str, list[list[float]]] = {}
        for label in big_pages:
            samples.update(_pair(small, big, label, small_pages[label], big_pages[label]))
        samples.update(side_by_side(sides, {name: {"call": name} for name in (
            "tab counts (capped)", "tab counts (exact, not shown)", "COUNT(*)")}, 11))
    finally:
        small.close()
        big.close()
    rows: list[tuple[str, Any, Any, str]] = []
    figures: dict[str, Any] = {"orders": info[1]["orders"], "small_orders": info[0]["orders"],
                               "repeat": REPEAT, "ratio_to_small": {}, "p50_ms": {},
                               "small_p50_ms": {}, "queries": {}}
    for label, (s, b) in samples.items():
        key = label.split(" (")[0] if label.startswith(("changelist", "page")) else label
        ours, limit = p50(b), p50(s)
        ratio = ours / max(0.05, limit)
        same = ""
        if label in queries:
            q_small, q_big = queries[label]
            same = f"; {q_big} queries" + ("" if q_small == q_big else f" (1k: {q_small}!)")
            figures["queries"][key] = q_big
        goal = "information" if label.startswith(("search_text", "page", "tab counts (exact",
                                                   "COUNT")) else "≤ 1.5×"
        rows.append((f"{label} p50 ms", ours, limit, f"{ratio:.2f}× ({goal}){same}"))
        figures["p50_ms"][key] = round(ours, 1)
        figures["small_p50_ms"][key] = round(limit, 1)
        figures["ratio_to_small"][key] = round(ratio, 2)
    print(f"(limit column: the same page over {info[0]['orders']:,} orders, sampled in turn)")
    report("admin order changelist", db, rows, figures)


def _pair(small: Side, big: Side, label: str, small_path: str,
          big_path: str) -> dict[str, list[list[float]]]:
    s_samples: list[float] = []
    b_samples: list[float] = []
    small.ask(get=small_path)
    big.ask(get=big_path)
    for k in range(REPEAT):
        turns = [(small, small_path, s_samples), (big, big_path, b_samples)]
        for side, path, into in (turns if k % 2 == 0 else turns[::-1]):
            answer = side.ask(get=path)
            assert answer["status"] == 200, (label, path, answer)
            into.append(answer["ms"])
    return {label: [s_samples, b_samples]}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        db, url, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        serve(lambda: setup(db, url, n))
    elif len(sys.argv) > 2:
        run(sys.argv[1], sys.argv[2])
    else:
        for db, url in database_urls().items():
            run(db, url)
