"""Demo data for the reseller provider (``manage.py seed_demo``): an account pointing at the
sandbox with its demo credentials, a merchant, and two local drafts to build at the provider.

The walk-through in the admin: open a draft → "Create provider draft" → add two items, delete
one (each goes to the provider while Draft) → "Place with provider" (checkout) → the worker
polls the execution until it is Executed (completed). Plain data only (``demo_data``): the
seeding side (``orders.demo``) creates the rows.
"""

from __future__ import annotations

from decimal import Decimal

from providers.types import DemoAccount, DemoData, DemoMerchant

CREDENTIALS = {
    "client_id": "demo-client",
    "client_secret": "demo-client-secret",
    "username": "demo",
    "password": "demo-password",
}
OPTIONS = {"edition": "standard", "account_id": "ACC-1001"}


def demo_data() -> DemoData:
    merchant = DemoMerchant(
        name="Reseller demo merchant", external_id="ACC-1001",
        contact_email="reseller@example.test",
        orders=[
            {"contact_name": "Ada Lovelace", "contact_email": "ada@example.test", "country": "GB",
             "items": [{"product_id": "MS365-BUS", "sku": "MS365-BUS",
                        "name": "Microsoft 365 Business", "quantity": 5,
                        "unit_price": Decimal("10.50")}]},
            {"contact_name": "Grace Hopper", "contact_email": "grace@example.test",
             "country": "US", "provider_options": {"account_id": "ACC-2002"}, "items": []},
        ])
    return DemoData(
        accounts=[DemoAccount(merchants=[merchant])],
        note="reseller: merchant ACC-1001 with 2 local drafts (build them at the sandbox)",
    )
