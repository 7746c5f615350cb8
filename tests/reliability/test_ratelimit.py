"""The per-account limiter: every HTTP call of a provider operation takes a slot of its
account's shared budget (Redis when configured, else the Django cache)."""

from __future__ import annotations

import pytest
import redis as redis_lib
import responses
from django.core.cache import cache

from merchants.provider_requests import provider_service
from orders import services
from providers import ratelimit
from providers.errors import ProviderUnavailable
from providers.types import MerchantRef, OrderRequest
from tests.factories import MerchantFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db
REDIS_URL = "redis://127.0.0.1:6379/15"


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    cache.clear()
    fake = FakeClock()
    monkeypatch.setattr(ratelimit, "time", fake)
    monkeypatch.setattr(ratelimit, "sleep", fake.sleep)
    yield fake
    cache.clear()


def _redis_or_skip():
    try:
        client = redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
    except redis_lib.RedisError:
        pytest.skip("Redis does not answer at 127.0.0.1:6379")
    return client


def _account(rate, **options):
    merchant = MerchantFactory()
    merchant.account.options = {"rate_limit": rate, **options}
    merchant.account.save()
    return merchant


def test_cache_limiter_spreads_an_accounts_calls_over_windows(mocked, clock):
    merchant = _account(2)
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/R", json={})
    service = provider_service(merchant.account)
    order = OrderRequest(pk=None, reference="R", merchant=MerchantRef(pk=None))
    for _ in range(5):
        service.reconcile_placement(order)
    assert len(mocked.calls) == 5
    assert clock.sleeps == [1.0, 1.0]  # 2 per second: calls 3 and 5 waited for a new window


def test_limiter_is_per_account(mocked, clock):
    one, two = _account(1), _account(1)
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/R", json={})
    order = OrderRequest(pk=None, reference="R", merchant=MerchantRef(pk=None))
    provider_service(one.account).reconcile_placement(order)
    provider_service(two.account).reconcile_placement(order)
    assert clock.sleeps == []


def test_call_over_the_maximum_wait_is_not_sent_and_is_unavailable(mocked, clock, settings):
    settings.RATE_LIMIT_MAX_WAIT = 0
    merchant = _account(1)
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/R", json={})
    service = provider_service(merchant.account)
    order = OrderRequest(pk=None, reference="R", merchant=MerchantRef(pk=None))
    service.reconcile_placement(order)
    with pytest.raises(ProviderUnavailable) as err:
        service.reconcile_placement(order)
    assert err.value.retry_after == 1 and "Rate limit" in str(err.value)
    assert len(mocked.calls) == 1


def test_each_page_of_a_sync_takes_a_slot(mocked, clock):
    merchant = _account(1)
    for page in range(3):
        mocked.add(responses.GET, f"{BASE_URL}/incoming?page={page}",
                   json={"pages": 3, "orders": []})
    services.account_sync_incoming(account=merchant.account)
    assert len(mocked.calls) == 3
    assert clock.sleeps == [1.0, 1.0]


def test_no_rate_means_no_limit(mocked, clock, settings):
    settings.PROVIDER_DEFAULT_RATE_LIMIT = 0
    merchant = MerchantFactory()
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/R", json={})
    service = provider_service(merchant.account)
    for _ in range(20):
        service.reconcile_placement(
            OrderRequest(pk=None, reference="R", merchant=MerchantRef(pk=None)))
    assert clock.sleeps == []


def test_redis_limiter_reserves_shared_slots(settings, monkeypatch):
    client = _redis_or_skip()
    settings.RATE_LIMIT_REDIS_URL = REDIS_URL
    settings.RATE_LIMIT_MAX_WAIT = 0.35
    waits: list[float] = []
    monkeypatch.setattr(ratelimit, "sleep", waits.append)
    scope = ratelimit.RateScope(key="test:redis-shared", rate=10, burst=1)
    client.delete("dropdesk:ratelimit:test:redis-shared")
    for _ in range(4):
        ratelimit.acquire(scope)
    # 10/s: each caller reserves the next 100 ms slot (any process sharing the key would too)
    assert waits[0] == pytest.approx(0.1, abs=0.03)
    assert waits[-1] == pytest.approx(0.3, abs=0.03)
    with pytest.raises(ProviderUnavailable):
        ratelimit.acquire(scope)  # would wait 0.4 s > the 0.35 s maximum: refused, not reserved
    client.delete("dropdesk:ratelimit:test:redis-shared")


def test_redis_down_falls_back_to_cache(settings, clock):
    settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"
    scope = ratelimit.RateScope(key="test:fallback", rate=1, burst=1)
    assert ratelimit.acquire(scope) == 0
    assert ratelimit.acquire(scope) == 1.0
