"""``GET /api/v1/orders/`` (100 per page) under a concurrent client on loopback, 100,000 orders.

dropdesk: the REST API (token auth, a DRF token of a superuser) served by
``manage.py runserver --noreload`` (threaded); requests/s from CLIENTS concurrent clients over
DURATION seconds, pages 1..PAGES round robin. Ceiling, same server, same rows, same pages: a bare
Django view returning ``JsonResponse`` of ``.values()`` (bench/_urls.py).
Target: ≥ 50 % of the ceiling. When the API is not installed (404) the benchmark says so and
is skipped.
"""

from __future__ import annotations

import sys
import threading
import time

from _common import Server, analyze, report, run_per_database, setup_django

N_ORDERS = 100_000
CLIENTS = 4
DURATION = 10.0
PAGES = 20


def load(url: str, headers: dict[str, str]) -> tuple[float, float, int]:
    """(requests/s, p50 ms, errors) from CLIENTS threads, each with its own session."""
    import requests

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + DURATION

    def client(offset: int) -> None:
        session = requests.Session()
        page = offset
        mine: list[float] = []
        while time.perf_counter() < stop:
            page = page % PAGES + 1
            start = time.perf_counter()
            response = session.get(url, params={"page": page, "page_size": 100}, headers=headers, timeout=30)
            response.content  # noqa: B018
            mine.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k * 5,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return len(latencies) / elapsed, latencies[len(latencies) // 2], errors[0]


def run(db: str, url: str) -> None:
    setup_django(url)
    import requests
    from _data import ensure_orders
    from django.contrib.auth import get_user_model

    from merchants.tokens import api_token_issue

    ensure_orders(N_ORDERS)
    analyze()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-api", defaults={"is_staff": True, "is_superuser": True})
    key = api_token_issue(user=user, name="bench")  # hashed at rest, as in production
    headers = {"Authorization": f"Token {key}"}
    with Server(url) as server:
        api = server.url + "/api/v1/orders/"
        probe = requests.get(api, params={"page_size": 100}, headers=headers, timeout=30)
        if probe.status_code != 200:
            why = ("API not installed — skipped (GET /api/v1/orders/ → 404)" if probe.status_code == 404
                   else f"API answered {probe.status_code} — skipped: {probe.text[:200]}")
            print(f"\n{why}")
            ceil_rps, ceil_p50, ceil_err = load(server.url + "/bench/ceiling/orders/", {})
            report("api orders list", db, [("GET /api/v1/orders/ req/s", "skipped", ceil_rps, "≥ 50 % of ceiling"),
                                            ("p50 ms", "skipped", ceil_p50, "—")],
                   {"skipped": why, "ceiling_req_per_s": round(ceil_rps, 1), "ceiling_p50_ms": round(ceil_p50, 1)})
            return
        body = probe.json()
        per_page = len(body.get("results", body) if isinstance(body, dict) else body)
        ceiling_url = server.url + "/bench/ceiling/orders/"
        serializer_url = server.url + "/bench/serializer/orders/"
        # the A/B is only fair if both render the same thing
        a = requests.get(api, params={"page": 3, "page_size": 100}, headers=headers, timeout=30).json()
        b = requests.get(serializer_url, params={"page": 3, "page_size": 100}, headers=headers,
                         timeout=30).json()
        assert a["results"] == b["results"], "order_list_render differs from OrderSerializer"
        load(api, headers)  # warm both (connections, caches)
        ours_rps, ours_p50, ours_err = load(api, headers)
        ser_rps, _ser_p50, _ser_err = load(serializer_url, headers)
        ceil_rps, ceil_p50, ceil_err = load(ceiling_url, {})
    ratio = ours_rps / ceil_rps
    rows = [
        ("GET /api/v1/orders/ req/s", ours_rps, ceil_rps, "≥ 50 % of ceiling"),
        ("ratio to ceiling", f"{ratio:.0%}", "", "≥ 50 %"),
        ("p50 ms", ours_p50, ceil_p50, "—"),
        ("rows per page", per_page, 100, "100"),
        ("errors", ours_err, ceil_err, "0"),
        ("same list rendered by OrderSerializer req/s", ser_rps, "",
         f"order_list_render pays {ours_rps / ser_rps:.2f}× (stays if ≥ 1.5×)"),
    ]
    report("api orders list", db, rows, {
        "orders": N_ORDERS, "clients": CLIENTS, "duration_s": DURATION, "req_per_s": round(ours_rps, 1),
        "ceiling_req_per_s": round(ceil_rps, 1), "ratio": round(ratio, 3), "p50_ms": round(ours_p50, 1),
        "ceiling_p50_ms": round(ceil_p50, 1), "rows_per_page": per_page, "errors": ours_err,
        "serializer_req_per_s": round(ser_rps, 1), "renderer_speedup": round(ours_rps / ser_rps, 3),
    })


if __name__ == "__main__":
    run_per_database(__file__)
    run(sys.argv[1], sys.argv[2])
