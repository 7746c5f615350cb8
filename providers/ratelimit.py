"""A per-account rate limiter shared by every process (web server and all workers).

Where it applies: in ``HttpClient.request``, once per HTTP call, before anything is sent. The
client carries its account's scope (``ProviderService.rate_scope`` -> ``scope_for``, handed to
the client when the service builds it), so every request of every provider method counts —
each page of a sync, each lookup of a reconcile, draft/item/custom-field calls, token fetches,
carrier lists, merchant registration — whichever process or thread makes it. There is no list
of limited operations (``tests/providers/test_every_call_limited.py`` enumerates them all).

Rate: ``account.options["rate_limit"]`` (calls per second), else the provider's
``ProviderService.rate_limit``, else ``settings.PROVIDER_DEFAULT_RATE_LIMIT``. ``0``/``None``
means unlimited.

Backends:
* Redis (when ``RATE_LIMIT_REDIS_URL`` or a ``redis://`` broker is configured): a GCRA-style
  reservation in one Lua script — each caller reserves the next free slot atomically and
  sleeps until it; a burst of ``burst`` calls passes at once.
* otherwise the Django cache: a fixed window counter (``add`` + ``incr``); with the default
  file cache it is shared by the processes of one machine (the embedded ``make run`` setup).

A caller that would have to wait longer than ``RATE_LIMIT_MAX_WAIT`` seconds does not wait:
``ProviderUnavailable(retry_after=…)`` is raised before anything is sent, and tasks retry.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from .errors import ProviderUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateScope:
    key: str  # e.g. "account:12"
    rate: float  # calls per second; <= 0 means unlimited
    burst: int = 1
    account_id: int | None = None  # the ProviderAccount's pk (for the call log)


# Swapped out by tests to observe waits without sleeping.
sleep: Callable[[float], None] = time.sleep

_GCRA = """
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local burst_allow = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local wait = tat - now - burst_allow
if wait < 0 then wait = 0 end
if wait > max_wait then return -wait end
local new_tat = tat + interval
redis.call('SET', key, tostring(new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return wait
"""

_redis_client: Any = None
_redis_url_used: str | None = None
_script: Any = None


def redis_url() -> str:
    url = getattr(settings, "RATE_LIMIT_REDIS_URL", "") or ""
    if not url:
        broker = getattr(settings, "CELERY_BROKER_URL", "") or ""
        if broker.startswith(("redis://", "rediss://")):
            url = broker
    return url


def _redis() -> Any:
    global _redis_client, _redis_url_used, _script
    url = redis_url()
    if not url:
        return None
    if _redis_client is None or _redis_url_used != url:
        import redis

        _redis_client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        _script = _redis_client.register_script(_GCRA)
        _redis_url_used = url
    return _redis_client


def _reserve_redis(scope: RateScope, max_wait: float) -> float:
    """Seconds to wait before the call (>= 0), or -seconds when over ``max_wait``."""
    _redis()
    interval_us = int(1_000_000 / scope.rate)
    burst_us = interval_us * max(0, scope.burst - 1)
    result = _script(
        keys=[f"dropdesk:ratelimit:{scope.key}"],
        args=[interval_us, burst_us, int(max_wait * 1_000_000)],
    )
    return int(result) / 1_000_000


def _reserve_cache(scope: RateScope, max_wait: float) -> float:
    """Fixed window: at most ``limit`` calls per ``window`` seconds."""
    window = max(1.0, 1.0 / scope.rate)
    limit = max(1, int(scope.rate * window), scope.burst if scope.rate >= 1 else 1)
    waited = 0.0
    while True:
        now = time.time()
        slot = math.floor(now / window)
        key = f"dropdesk:ratelimit:{scope.key}:{slot}"
        cache.add(key, 0, timeout=int(window) + 2)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=int(window) + 2)
            count = 1
        if count <= limit:
            return waited
        until_next = (slot + 1) * window - now
        if waited + until_next > max_wait:
            return -(waited + until_next)
        sleep(until_next)
        waited += until_next


def acquire(scope: RateScope | None) -> float:
    """Take one call's slot for ``scope`` (``None``: no limit); returns seconds waited.

    Raises ``ProviderUnavailable`` (nothing sent) when the wait would exceed the maximum.
    """
    if scope is None or not scope.rate or scope.rate <= 0:
        return 0.0
    max_wait = float(getattr(settings, "RATE_LIMIT_MAX_WAIT", 10.0))
    wait: float | None = None
    if redis_url():
        try:
            wait = _reserve_redis(scope, max_wait)
        except Exception as exc:
            logger.warning("rate limiter: Redis unavailable (%s); using the cache",
                           exc.__class__.__name__)
    if wait is None:
        wait = _reserve_cache(scope, max_wait)  # waits inside, per window
        if wait < 0:
            raise _too_busy(scope, -wait)
        return wait
    if wait < 0:
        raise _too_busy(scope, -wait)
    if wait > 0:
        sleep(wait)
    return wait


def _too_busy(scope: RateScope, seconds: float) -> ProviderUnavailable:
    return ProviderUnavailable(
        f"Rate limit of this account ({scope.rate:g} calls/s) reached; not sent, retry in "
        f"{seconds:.1f}s",
        retry_after=math.ceil(seconds),
        operation="rate_limit",
    )


def scope_for(service: Any) -> RateScope | None:
    """The limiter scope of a provider service instance (its account and rate)."""
    account = getattr(service, "account", None)
    if account is None or getattr(account, "pk", None) is None:
        return None
    options = getattr(account, "options", None) or {}
    default = float(getattr(settings, "PROVIDER_DEFAULT_RATE_LIMIT", 0) or 0)
    raw: Any = options.get("rate_limit")
    if raw in (None, ""):
        raw = getattr(service, "rate_limit", None)
    try:
        rate = default if raw in (None, "") else float(raw)
    except (TypeError, ValueError):
        rate = default
    burst = options.get("rate_burst") or getattr(service, "rate_burst", None) or max(1, int(rate))
    return RateScope(key=f"account:{account.pk}", rate=rate, burst=int(burst),
                     account_id=int(account.pk))
