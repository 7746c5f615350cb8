from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.cache import cache

from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

BASE = "https://bss.example.test"
TOKEN_URL = f"{BASE}/oauth/token"
ORDERS = f"{BASE}/api/orders"
FIXTURES = Path(__file__).parent / "fixtures"
CREDENTIALS = {
    "client_id": "client-key-1", "client_secret": "client-secret-xyz",
    "username": "api-user", "password": "api-password-123",
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def add_token(rsps: responses.RequestsMock, token: str = "tok-abc123456789",  # noqa: S107
              expires_in: int = 3600) -> Any:
    return rsps.add(responses.POST, TOKEN_URL,
                    json={"access_token": token, "token_type": "bearer",
                          "expires_in": expires_in})


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def account(db):
    return AccountFactory(provider="reseller", base_url=BASE, credentials=dict(CREDENTIALS),
                          options={"edition": "standard", "account_id": "ACC-1001"})


@pytest.fixture
def free_account(db):
    return AccountFactory(provider="reseller", base_url=BASE, credentials=dict(CREDENTIALS),
                          options={"edition": "free", "account_id": "ACC-1001"})


@pytest.fixture
def rmerchant(account):
    return MerchantFactory(account=account, external_id="ACC-1001")


@pytest.fixture
def local_draft(rmerchant):
    """A draft with two items, not yet at the provider."""
    order = OrderFactory(merchant=rmerchant)
    OrderItemFactory(order=order, product_id="MS365-BUS", sku="MS365-BUS", quantity=5)
    OrderItemFactory(order=order, product_id="AZ-PLAN", sku="", quantity=1)
    return order


@pytest.fixture
def provider_draft(rmerchant):
    """A draft already at the provider (id 5001) with one item there (7001)."""
    order = OrderFactory(merchant=rmerchant, external_id="5001", external_ids=["5001"],
                         raw_status="Draft")
    OrderItemFactory(order=order, product_id="MS365-BUS", sku="MS365-BUS", quantity=5,
                     external_id="7001")
    return order


def add_reads(rsps: responses.RequestsMock, *, status: str = "Draft") -> None:
    """The provider's reads around a write: the order (its status, read before checkout) and
    single items (read back after each add, ``GET /api/orders/{id}/items/{itemId}``)."""
    rsps.add(responses.GET, f"{ORDERS}/5001", json={"Id": 5001, "Status": status})

    def item(request: Any) -> tuple[int, dict[str, str], str]:
        item_id = request.url.rstrip("/").rsplit("/", 1)[-1]
        return 200, {"Content-Type": "application/json"}, json.dumps({"Id": int(item_id)})

    rsps.add_callback(responses.GET, re.compile(rf"{re.escape(ORDERS)}/\d+/items/\d+$"),
                      callback=item)
