"""Demo data for the reseller provider (``manage.py seed_demo``): an account pointing at the
sandbox with its demo credentials, a merchant, and two local drafts to build at the provider.

The walk-through in the admin: open a draft → "Create provider draft" → add two items, delete
one (each goes to the provider while Draft) → "Place with provider" (checkout) → the worker
polls the execution until it is Executed (completed).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from merchants import services as merchant_services
from orders import services

CREDENTIALS = {
    "client_id": "demo-client",
    "client_secret": "demo-client-secret",
    "username": "demo",
    "password": "demo-password",
}
OPTIONS = {"edition": "standard", "account_id": "ACC-1001"}


def seed(*, account: Any, stdout: Any) -> None:
    merchant = merchant_services.merchant_create(
        account=account, name="Reseller demo merchant", external_id="ACC-1001",
        contact_email="reseller@example.test",
    )
    merchant_services.merchant_authorize(merchant=merchant, how="demo")
    services.order_create(
        merchant=merchant, contact_name="Ada Lovelace", contact_email="ada@example.test",
        country="GB",
        items=[{"product_id": "MS365-BUS", "sku": "MS365-BUS", "name": "Microsoft 365 Business",
                "quantity": 5, "unit_price": Decimal("10.50")}],
    )
    services.order_create(
        merchant=merchant, contact_name="Grace Hopper", contact_email="grace@example.test",
        country="US", provider_options={"account_id": "ACC-2002"}, items=[],
    )
    stdout.write("  reseller: merchant ACC-1001 with 2 local drafts (build them at the sandbox)")
