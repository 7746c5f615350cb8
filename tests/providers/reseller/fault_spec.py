"""Fault-matrix spec for the reliability suite: the reseller's non-idempotent "create" of a
placement is the checkout (``POST /api/orders/{id}/checkout``) of a draft already built at the
provider (draft creation and item pushes are recorded one by one before it)."""

from __future__ import annotations

from typing import Any

import responses

from orders.models import Order
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

BASE = "https://bss-faults.example.test"
DRAFT_ID = "5001"
CHECKOUT_URL = f"{BASE}/api/orders/{DRAFT_ID}/checkout"


def make_order(*args: Any, **kwargs: Any) -> Order:
    account = AccountFactory(
        provider="reseller", base_url=BASE,
        credentials={"client_id": "fault-client", "client_secret": "fault-secret-123",
                     "username": "fault-user", "password": "fault-password-123"},
        options={"edition": "standard", "account_id": "ACC-1001"},
    )
    merchant = MerchantFactory(account=account)  # authorized by the factory
    order = OrderFactory(merchant=merchant, external_id=DRAFT_ID, external_ids=[DRAFT_ID],
                         raw_status="Draft")
    OrderItemFactory(order=order, product_id="MS365-BUS", quantity=2, external_id="7001")
    return order


def mock_success(rsps: responses.RequestsMock, order: Order) -> None:
    rsps.add(responses.POST, f"{BASE}/oauth/token",
             json={"access_token": "fault-token-abc", "token_type": "bearer", "expires_in": 3600})
    rsps.add(responses.GET, f"{BASE}/api/orders/{DRAFT_ID}/execute/status",
             json={"OrderId": int(DRAFT_ID), "Status": "Executed"})
    # read before the checkout (still a Draft), then after it (the lookup)
    rsps.add(responses.GET, f"{BASE}/api/orders/{DRAFT_ID}",
             json={"Id": int(DRAFT_ID), "Status": "Draft"})
    rsps.add(responses.GET, f"{BASE}/api/orders/{DRAFT_ID}",
             json={"Id": int(DRAFT_ID), "Status": "Submitted"})


FAULT_SPEC = {
    "make_order": make_order,
    "mock_success": mock_success,
    "create": ("POST", CHECKOUT_URL),
    "create_success_json": {"Id": int(DRAFT_ID), "Status": "Submitted"},
    # (method, url, reply when the checkout was accepted, reply when it was not)
    "lookup": ("GET", f"{BASE}/api/orders/{DRAFT_ID}",
               {"Id": int(DRAFT_ID), "Status": "Submitted"},
               {"Id": int(DRAFT_ID), "Status": "Draft"}),
}
