"""Profile the Tipser sync's CPU without HTTP: pages rendered by the sandbox, parsed, upserted.

    .venv/bin/python bench/_profile_sync.py sqlite [N] [cprofile|pyinstrument|time|nogc]
"""

from __future__ import annotations

import json
import sys
import time

from _common import database_urls, setup_django

N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
MODE = sys.argv[3] if len(sys.argv) > 3 else "time"
PAGE = 100


def main() -> None:
    setup_django(database_urls()[sys.argv[1]])
    from bench_tipser_sync import _account, _sandbox_orders, _wipe

    from orders.models import Order
    from orders.snapshots import upsert_page
    from providers.tipser import mapping
    from providers.tipser.models import SandboxOrder
    from providers.tipser.sandbox import render_order

    _sandbox_orders("bench-profile-apikey", N)
    account, _merchant = _account("bench-profile", "bench-profile-apikey", "http://x/", page_size=PAGE)
    rows = list(SandboxOrder.objects.filter(merchant__api_key="bench-profile-apikey")
                .order_by("order_date", "id")[:N])
    bodies = [json.dumps({"itemsCount": N, "pageIndex": k // PAGE,
                          "items": [render_order(o) for o in rows[k:k + PAGE]]}).encode()
              for k in range(0, N, PAGE)]

    def work() -> dict[str, float]:
        t = {"parse": 0.0, "map": 0.0, "upsert": 0.0}
        for body in bodies:
            a = time.process_time()
            data = json.loads(body)
            b = time.process_time()
            page, _ = mapping.parse_order_page(data)
            c = time.process_time()
            upsert_page(account=account, page=page)
            d = time.process_time()
            t["parse"] += b - a
            t["map"] += c - b
            t["upsert"] += d - c
        return t

    _wipe(Order.objects.filter(merchant__account=account))
    if MODE == "cprofile":
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        work()
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    elif MODE == "pyinstrument":
        from pyinstrument import Profiler

        p = Profiler()
        p.start()
        work()
        p.stop()
        print(p.output_text(unicode=True, color=False, show_all=False))
    else:
        import gc

        if MODE == "nogc":  # what the cyclic GC costs the sync: A/B in turn, same process
            import contextlib

            from orders import snapshots

            paused = snapshots.gc_paused
            for k in range(6):
                variant = ("product", "gc on", "frozen")[k % 3]  # product: paused per page
                snapshots.gc_paused = paused if variant == "product" else contextlib.nullcontext
                if variant == "frozen":
                    gc.freeze()
                t = work()
                snapshots.gc_paused = paused
                gc.unfreeze()
                print(f"{variant:7}", f"{N / sum(t.values()):,.0f} orders/s",
                      {name: f"{v:.3f}s" for name, v in t.items()})
                _wipe(Order.objects.filter(merchant__account=account))
        t = work()
        total = sum(t.values())
        print({k: f"{v:.3f}s" for k, v in t.items()}, f"{N / total:,.0f} orders/s of CPU time (process_time: load-independent)")
    _wipe(Order.objects.filter(merchant__account=account))


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    main()
