"""Provider reads a web request asks for, run by the worker: the one pattern.

A web request never calls a provider (issue 14). When a page or an API route needs data only
the provider has (an order's custom fields, a carrier list, a reservation, a credentials
check, an authorization link), it asks here:

- ``read_request(key=..., max_age=..., enqueue=...)`` answers the last result stored under
  ``key`` if it is younger than ``max_age`` seconds (``ready``) or a failure not yet shown
  (``failed``); otherwise it queues the read once (``enqueue()``, deduplicated by a pending
  marker that expires after ``PENDING_SECONDS``, so a lost message is re-queued by the next
  ask) and answers ``pending``. When the task already ran (eager Celery in tests, or a fast
  worker) the answer is ``ready`` at once.
- The worker's task calls the provider and stores ``read_store_data(key, data)`` or
  ``read_store_failure(key, reason)`` — a readable reason, already redacted.
- The admin shows ``pending`` as "reading from <provider>…" and refreshes the fragment
  (htmx polling); the API answers 202 with ``Retry-After`` and ``Location`` (the same URL).
- A command that changes what was read (saving custom fields, releasing a reservation)
  calls ``read_forget(key)`` when it is done, so the next ask reads afresh.

Results live in Django's cache (shared by the web and the worker: the file cache on one
machine, Redis on several). A cold cache costs one more provider read, never a wrong answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.core.cache import cache
from django.utils import timezone

PENDING_SECONDS = 120  # after this a queued read that never reported is queued again
KEEP_SECONDS = 24 * 3600  # a result is kept at most this long (a failure until shown)
RETRY_AFTER_SECONDS = 2  # what the API tells a client to wait before asking again

Status = Literal["ready", "pending", "failed"]


@dataclass(frozen=True)
class ReadResult:
    """What a read looks like now. ``data`` when ``ready``; ``error`` (plain words) when
    ``failed``, with ``code`` when the worker gave one (e.g. ``provider_rejected``: the API
    answers a refusal 409, a failure 502); ``read_at`` when the provider answered."""

    status: Status
    data: Any = None
    error: str = ""
    read_at: dt.datetime | None = None
    code: str = ""

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def read_key(kind: str, *parts: object) -> str:
    """The cache key of one read, e.g. ``read_key("order-custom-fields", order.pk)``."""
    return "dropdesk:read:" + ":".join([kind, *(str(p) for p in parts)])


def _pending_key(key: str) -> str:
    return f"{key}:pending"


def _stored(key: str) -> dict[str, Any] | None:
    value = cache.get(key)
    return value if isinstance(value, dict) and "read_at" in value else None


def _age(stored: dict[str, Any]) -> float:
    try:
        read_at = dt.datetime.fromisoformat(str(stored["read_at"]))
    except (KeyError, ValueError):
        return float("inf")
    return (timezone.now() - read_at).total_seconds()


def _result(stored: dict[str, Any]) -> ReadResult:
    read_at = dt.datetime.fromisoformat(str(stored["read_at"]))
    if stored.get("error"):
        return ReadResult("failed", error=str(stored["error"]), read_at=read_at,
                          code=str(stored.get("code") or ""))
    return ReadResult("ready", data=stored.get("data"), read_at=read_at)


def read_peek(*, key: str, max_age: float | None = None) -> ReadResult | None:
    """The stored result (ready or failed) if any and younger than ``max_age``; no queuing,
    and a failure stays stored (for a form's POST that needs the data it showed)."""
    stored = _stored(key)
    if stored is None or (max_age is not None and _age(stored) > max_age):
        return None
    return _result(stored)


def read_request(*, key: str, max_age: float, enqueue: Callable[[], None],
                 refresh: bool = False) -> ReadResult:
    """The read's result now, queuing it when there is none fresh enough (see the module
    doc). A failure is answered once, then forgotten, so asking again reads again.
    ``refresh`` ignores a stored result (an operator's "read again")."""
    stored = None if refresh else _stored(key)
    if stored is not None:
        if stored.get("error"):
            cache.delete(key)
            return _result(stored)
        if _age(stored) <= max_age:
            return _result(stored)
    if refresh:
        cache.delete(key)
        cache.delete(_pending_key(key))
    if cache.add(_pending_key(key), timezone.now().isoformat(), timeout=PENDING_SECONDS):
        enqueue()
        ran = _stored(key)  # an eager task (tests) or a very fast worker already answered
        if ran is not None and (ran.get("error") or _age(ran) <= max_age):
            if ran.get("error"):
                cache.delete(key)
            return _result(ran)
    return ReadResult("pending")


def read_pending(*, key: str) -> bool:
    """Whether a read of ``key`` is queued and has not reported yet (within
    ``PENDING_SECONDS``): a route answering "the last result" tells "still running" from
    "never asked" with it."""
    return cache.get(_pending_key(key)) is not None


def read_store_data(key: str, data: Any) -> None:
    """The worker read ``data`` (JSON-able) from the provider."""
    cache.set(key, {"data": data, "read_at": timezone.now().isoformat()}, KEEP_SECONDS)
    cache.delete(_pending_key(key))


def read_store_failure(key: str, reason: str, *, code: str = "") -> None:
    """The worker's read failed: ``reason`` in plain words (shown to the operator or the
    API client once); ``code`` optional, a machine word for the kind of failure."""
    cache.set(key, {"error": reason or "The provider read failed.", "code": code,
                    "read_at": timezone.now().isoformat()}, KEEP_SECONDS)
    cache.delete(_pending_key(key))


def read_forget(key: str) -> None:
    """Drop the stored result (the data changed): the next ask reads afresh."""
    cache.delete(key)
    cache.delete(_pending_key(key))
