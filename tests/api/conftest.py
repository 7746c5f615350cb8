from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from merchants.services import integration_create
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def integration(db):
    """An unscoped integration token (all merchants)."""
    integration, key = integration_create(name="erp")
    integration.key = key
    return integration


@pytest.fixture
def api(integration) -> APIClient:
    return token_client(integration.key)


@pytest.fixture
def staff_api(db) -> APIClient:
    """A ``create_api_token --staff`` token, as issued (nothing added by hand)."""
    _integration, key = integration_create(name="staff-script", staff=True)
    return token_client(key)


@pytest.fixture
def operator_api(operator) -> APIClient:
    client = APIClient()
    client.force_login(operator)
    return client


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(name="Other shop")


@pytest.fixture
def other_order(other_merchant):
    order = OrderFactory(merchant=other_merchant)
    OrderItemFactory(order=order)
    return order


@pytest.fixture
def scoped_api(merchant) -> APIClient:
    """A token limited to ``merchant``."""
    _integration, key = integration_create(name="shop-a", merchants=[merchant])
    return token_client(key)


# --- every status the API tests observe, per (method, path): checked against the schema by
# test_zz_documented_statuses.py (which runs last in this directory) ---
OBSERVED_STATUSES: set[tuple[str, str, int]] = set()


@pytest.fixture(autouse=True)
def _record_api_statuses(monkeypatch):
    from django.test import Client

    original = Client.request

    def request(self, **environ):
        response = original(self, **environ)
        path = environ.get("PATH_INFO", "")
        if path.startswith("/api/v1/"):
            OBSERVED_STATUSES.add((environ["REQUEST_METHOD"].lower(), path,
                                   response.status_code))
        return response

    monkeypatch.setattr(Client, "request", request)
