"""Two data sets measured side by side: one process per data set (each its own database and
Django), asked in turn for one timed sample at a time — small, large, large, small, … — so the
machine's load (2 shared CPUs) falls on both alike. Used by the admin benchmarks, whose limit
is the same page over 1,000 orders.

A side answers JSON lines on stdin/stdout: ``{"get": path}`` → ``{"ms": …}`` (one request,
rendered), ``{"queries": path}`` → ``{"n": …, "sql": [...]}``, ``{"call": name}`` → ``{"ms": …}``
(one of the script's named functions), ``{"info": true}`` → the script's figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import ROOT, percentile

Calls = dict[str, Callable[[], Any]]


def serve(setup: Callable[[], tuple[Any, Calls, dict[str, Any]]]) -> None:
    """The child: ``setup()`` returns (a logged-in test client, named calls, info)."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    client, calls, info = setup()
    out = sys.stdout
    sys.stdout = sys.stderr  # anything else printed must not break the protocol
    for line in sys.stdin:
        ask = json.loads(line)
        if "get" in ask:
            start = time.perf_counter()
            response = client.get(ask["get"])
            response.content  # noqa: B018 - rendered
            answer: dict[str, Any] = {"ms": (time.perf_counter() - start) * 1000,
                                      "status": response.status_code}
        elif "queries" in ask:
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                client.get(ask["queries"]).content  # noqa: B018
            answer = {"n": len(ctx.captured_queries),
                      "sql": [f"{q['time']}s {q['sql'][:200]}" for q in ctx.captured_queries]}
        elif "call" in ask:
            start = time.perf_counter()
            calls[ask["call"]]()
            answer = {"ms": (time.perf_counter() - start) * 1000}
        else:
            answer = info
        out.write(json.dumps(answer) + "\n")
        out.flush()


class Side:
    def __init__(self, script: str, db: str, url: str, n_orders: int) -> None:
        self.n_orders = n_orders
        self.proc = subprocess.Popen(
            [sys.executable, script, "serve", db, url, str(n_orders)], cwd=ROOT / "bench",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **question: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(question) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench side ({self.n_orders:,} orders) stopped")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(30)


def side_by_side(sides: list[Side], questions: dict[str, dict[str, Any]],
                 repeat: int) -> dict[str, list[list[float]]]:
    """label -> per side, ``repeat`` samples; the sides take turns, first one, then the other."""
    samples: dict[str, list[list[float]]] = {label: [[] for _ in sides] for label in questions}
    for label, question in questions.items():
        for side in sides:  # warm
            side.ask(**question)
        for k in range(repeat):
            order = list(enumerate(sides))
            if k % 2:
                order.reverse()
            for index, side in order:
                answer = side.ask(**question)
                assert answer.get("status", 200) == 200, (label, answer)
                samples[label][index].append(answer["ms"])
    return samples


def p50(values: list[float]) -> float:
    return percentile(values, 50)
