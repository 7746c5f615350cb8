"""A Brandsdistribution account's reservation: our last known view of it, one placement at a
time per account, and the operator's view and release of leftovers.

The reservation is one per account (API key) and shared by all its orders; it never expires by
itself, and an aborted create may have added quantities to it (doc, "Notes"). Every reply that
lists it — reservation status, reserve (lock/unlock/set) and order create ("the models
remaining in your reservation") — is remembered in ``core.account_cache`` (name
``bd-reservation``) with when each model was first seen locked ("since": the provider gives no
dates). Nothing here writes our models.

**One placement at a time per account** (``placement_turn``): what our lock added, and what an
order took, are differences of that shared reservation, which are only ours when nothing else
of ours changes it in between. Four worker threads placing at once made an order placed in full
look short ("locked 0": another order's create had emptied the reservation between this one's
read and lock). Inside the turn the remembered reservation is the baseline of the next lock,
so a batch reads the reservation once, not once per order (``BATCH_SECONDS``). Threads of one
process take a lock; processes take a PostgreSQL advisory lock on the account (on SQLite
several processes are not excluded from each other — development only).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.utils import timezone

from core import account_cache
from providers.errors import ProviderUnavailable

if TYPE_CHECKING:

    from .client import BrandsdistributionClient

CACHE_NAME = "bd-reservation"
# A remembered reservation serves as a placement's baseline for this long (a batch); older,
# it is read again first. Only changes outside dropdesk (the provider's website, another
# installation) can make it wrong within that time.
BATCH_SECONDS = 300
TURN_WAIT_SECONDS = 120  # longer than this waiting for the account's turn: try again later
_ADVISORY_NAMESPACE = zlib.crc32(b"dropdesk:bd-placement") & 0x7FFFFFFF

Models = dict[str, dict[str, int]]

_guard = threading.Lock()
_thread_locks: dict[int | None, threading.Lock] = {}


# --- the remembered reservation --------------------------------------------------------------
def remember(account_pk: int | None, models: Mapping[str, Mapping[str, int]]) -> None:
    """Store a reply's reservation (the models with ``locked`` > 0), keeping "since"."""
    previous = account_cache.get(account_pk, CACHE_NAME) or {}
    since = {m["stock_id"]: m.get("since") for m in previous.get("models", [])}
    now = timezone.now().isoformat()
    account_cache.put(account_pk, CACHE_NAME, {"models": [
        {"stock_id": sid, "locked": int(m["locked"]), "available": int(m.get("available", 0)),
         "since": since.get(sid) or now}
        for sid, m in sorted(models.items()) if int(m.get("locked", 0)) > 0]})


def forget(account_pk: int | None) -> None:
    """The reservation is no longer known (an unlock whose reply said nothing, or failed)."""
    account_cache.forget(account_pk, CACHE_NAME)


def remembered(account_pk: int | None, *, max_age: float | None = BATCH_SECONDS) -> Models | None:
    """The last known reservation as ``{stock_id: {"locked", "available"}}``, or None."""
    data = account_cache.get(account_pk, CACHE_NAME, max_age=max_age)
    if data is None:
        return None
    return {m["stock_id"]: {"locked": m["locked"], "available": m["available"]}
            for m in data.get("models", [])}


def baseline(account_pk: int | None, client: BrandsdistributionClient) -> Models:
    """The reservation before this placement's lock: remembered within the batch, else read."""
    known = remembered(account_pk)
    if known is not None:
        return known
    models = client.reservation()
    remember(account_pk, models)
    return models


# --- one placement at a time per account -----------------------------------------------------
@contextmanager
def placement_turn(account_pk: int | None) -> Iterator[None]:
    """Hold the account's placement turn (threads: a lock; processes: a PostgreSQL advisory
    lock). Waiting longer than ``TURN_WAIT_SECONDS`` raises ``ProviderUnavailable`` before
    anything is sent, so a task retries."""
    with _guard:
        local = _thread_locks.setdefault(account_pk, threading.Lock())
    if not local.acquire(timeout=TURN_WAIT_SECONDS):
        raise _busy()
    try:
        if connection.vendor == "postgresql" and account_pk is not None:
            with _advisory(account_pk):
                yield
        else:
            yield
    finally:
        local.release()


@contextmanager
def _advisory(account_pk: int) -> Iterator[None]:
    deadline = time.monotonic() + TURN_WAIT_SECONDS
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)",
                           [_ADVISORY_NAMESPACE, account_pk])
            if cursor.fetchone()[0]:
                break
            if time.monotonic() > deadline:
                raise _busy()
            time.sleep(0.05)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, account_pk])


def _busy() -> ProviderUnavailable:
    return ProviderUnavailable(
        "Another placement on this Brandsdistribution account is taking long; not sent, "
        "try again shortly.", operation="reserve_lock", retry_after=30)


# --- the operator's view ---------------------------------------------------------------------
def reservation_view(account_pk: int | None) -> dict[str, Any]:
    """What is known without a call: ``{"models": [...], "read_at": iso | None}``."""
    stored = account_cache.entry(account_pk, CACHE_NAME)
    if stored is None:
        return {"models": [], "read_at": None}
    return {"models": list(stored["data"].get("models", [])), "read_at": stored["stored_at"]}
