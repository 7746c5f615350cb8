"""Run one callable from several threads at once (each with its own database connection)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def race(target: Callable[[], object], n: int = 2, *, timeout: float = 60) -> list[object]:
    """Start ``n`` threads behind a barrier so they call ``target`` together; what each
    returned or raised, in the order they finished."""
    barrier = threading.Barrier(n)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return results
