"""Demo data for ``manage.py seed_demo``: a JSON and an XML account (both reserving first, each
in its own encoding), pointing at the sandbox, each with a merchant and draft orders that show
the happy path, a shortfall found at reservation (before sending) and an unknown stock id.

Plain data only (``demo_data``): the seeding side (``orders.demo``) creates the rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from providers.types import DemoAccount, DemoData, DemoMerchant

from .sandbox import ensure_stock

CREDENTIALS = {"api_key": "demo-bd-json", "password": "demo-bd-password"}
OPTIONS = {"wire_format": "json", "reserve_first": True}
XML_CREDENTIALS = {"api_key": "demo-bd-xml", "password": "demo-bd-password"}
XML_OPTIONS = {"wire_format": "xml", "reserve_first": True}  # the documented XML reserve

ADDRESS: dict[str, Any] = {
    "contact_name": "ACME srl",
    "contact_email": "acme@example.test",
    "phone_prefix": "+39",
    "phone_number": "0112838474",
    "address_line1": "Via Roma 1",
    "city": "Torino",
    "region": "TO",
    "postal_code": "10100",
    "country": "IT",
}
PRODUCTS = {
    "148148": ("Sneaker Ruby, size 42", Decimal("59.00")),
    "148367": ("Leather bag Onyx", Decimal("129.00")),  # 3 in stock
    "1578": ("T-shirt Sand, M", Decimal("14.50")),
    "999999": ("Discontinued model", Decimal("10.00")),  # unknown to the provider
}


def _items(*lines: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"sku": sku, "product_id": sku, "name": PRODUCTS[sku][0], "quantity": qty,
             "unit_price": PRODUCTS[sku][1]} for sku, qty in lines]


def demo_data() -> DemoData:
    """Sandbox stock seeded; two accounts (the seeded JSON one and an XML one beside it)."""
    ensure_stock()
    json_merchant = DemoMerchant(
        name="Moda Torino (JSON)", external_id="demo-bd-json", contact_email="shop@example.test",
        orders=[
            {"items": _items(("148148", 2), ("1578", 1)),
             "provider_options": {"autoConfirm": True, "customer_key": "C-100"}, **ADDRESS},
            {"items": _items(("148148", 1), ("148367", 5)),
             "provider_options": {"notes": "Shortfall demo: only 3 bags in stock"}, **ADDRESS},
            {"items": _items(("999999", 1)),
             "provider_options": {"notes": "Unknown stock id demo: fix the SKU"}, **ADDRESS},
        ])
    xml_merchant = DemoMerchant(
        name="Moda Milano (XML)", external_id="demo-bd-xml", contact_email="shop@example.test",
        orders=[
            {"items": _items(("1578", 2)),
             "provider_options": {"carrierId": "39", "street_type": "Via",
                                  "street_name": "Roma", "address_number": "1"}, **ADDRESS},
            {"items": _items(("148367", 4)),
             "provider_options": {"autoConfirm": False,
                                  "notes": "Shortfall at the XML reservation"}, **ADDRESS},
        ])
    return DemoData(
        accounts=[
            DemoAccount(merchants=[json_merchant]),
            DemoAccount(merchants=[xml_merchant], name_suffix=" (XML)",
                        credentials=XML_CREDENTIALS, options=XML_OPTIONS),
        ],
        note="  brandsdistribution: JSON account (reserve first) with 3 drafts, "
             "XML account (reserve first, in XML) with 2 drafts; sandbox stock seeded",
    )
