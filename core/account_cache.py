"""The one place provider data read for an account is cached: Django's cache, keyed by account.

Provider code never writes our models for its own bookkeeping (no ``account.state`` writes):
what a provider read and we keep for a while — Brandsdistribution's carrier list and its
last known reservation, Tipser's markets (carriers per market) — goes through here. With the
default file cache it is shared by the processes of one machine; with Redis by all of them.
A cold or cleared cache only costs one more provider read.

Entries are ``{"data": ..., "stored_at": iso}``; ``get(max_age=...)`` treats an older entry as
absent, so one entry can serve a short-lived use (a placement batch) and a long-lived one (the
admin's view of it) alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.utils import timezone

KEEP_SECONDS = 7 * 24 * 3600  # how long an entry is kept at all


def _key(account_pk: int | None, name: str) -> str:
    return f"dropdesk:account:{account_pk}:{name}"


def entry(account_pk: int | None, name: str) -> dict[str, Any] | None:
    """``{"data", "stored_at"}`` or None."""
    value = cache.get(_key(account_pk, name))
    return value if isinstance(value, dict) and "stored_at" in value else None


def age(stored: dict[str, Any]) -> float:
    try:
        stored_at = dt.datetime.fromisoformat(str(stored["stored_at"]))
    except (KeyError, ValueError):
        return float("inf")
    return (timezone.now() - stored_at).total_seconds()


def get(account_pk: int | None, name: str, *, max_age: float | None = None) -> Any:
    """The cached data, or None when absent or older than ``max_age`` seconds."""
    stored = entry(account_pk, name)
    if stored is None or (max_age is not None and age(stored) > max_age):
        return None
    return stored["data"]


def put(account_pk: int | None, name: str, data: Any) -> dict[str, Any]:
    stored = {"data": data, "stored_at": timezone.now().isoformat()}
    cache.set(_key(account_pk, name), stored, KEEP_SECONDS)
    return stored


def forget(account_pk: int | None, name: str) -> None:
    cache.delete(_key(account_pk, name))


def read_through(account_pk: int | None, name: str, load: Callable[[], Any], *,
                 max_age: float, refresh: bool = False) -> Any:
    """Cached data younger than ``max_age``, else ``load()`` stored and returned (its
    exception propagates; the caller decides whether a stale entry is good enough)."""
    if not refresh:
        cached = get(account_pk, name, max_age=max_age)
        if cached is not None:
            return cached
    data = load()
    put(account_pk, name, data)
    return data
