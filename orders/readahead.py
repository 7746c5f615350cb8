"""Read ahead: fetch a provider's next page while the current one is being written.

A sync is a loop of "fetch a page over HTTP, write it to the database". Done one after the
other, the sync waits for the provider while the database is idle and the other way round;
reading one page ahead lets both run at once (issue 8: the fetch was a third of a Tipser sync).

``read_ahead(pages, snapshot=…)`` runs the page generator in one background thread, at most
one page ahead, and yields ``(page, snapshot)`` pairs in order. ``snapshot`` is called in that
thread right after each page was produced — while the generator is paused — so it captures
what the generator had recorded *for that page* (the sync cursor), not what it has recorded
since while reading further. An error in the generator is raised in the caller after the
pages before it; if the caller stops early, the generator is closed at its next step.

``ACCOUNT_SYNC_READ_AHEAD=false`` turns it off (pages fetched in the caller's thread). The
tests that serve a sandbox *in process* through the test client turn it off: there the
sandbox reads the test's own uncommitted transaction, which another thread cannot see.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from django.db import connections

P = TypeVar("P")
S = TypeVar("S")


def read_ahead(
    pages: Iterator[P], *, snapshot: Callable[[], S], enabled: bool = True
) -> Generator[tuple[P, S], None, None]:
    if not enabled:  # the same pairs, one after the other in this thread
        for page in pages:
            yield page, snapshot()
        return
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(message: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(("page", (page, snapshot()))):
                    return
            put(("done", None))
        except BaseException as exc:
            put(("error", exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
            connections.close_all()  # this thread's connections, if the generator opened any

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(produce,), name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "page":
                yield value
            elif kind == "error":
                raise value
            else:
                break
    finally:
        stop.set()
    thread.join()
