"""Demo data for ``manage.py seed_demo``: a JSON and an XML account (both reserving first, each
in its own encoding), pointing at the sandbox, each with a merchant and draft orders that show
the happy path, a shortfall found at reservation (before sending) and an unknown stock id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from merchants import services as merchant_services
from merchants.models import ProviderAccount
from orders import services

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


def _merchant(account: ProviderAccount, name: str, external_id: str) -> Any:
    merchant = merchant_services.merchant_create(
        account=account, name=name, external_id=external_id, contact_email="shop@example.test",
    )
    merchant_services.merchant_authorize(merchant=merchant, how="demo")
    return merchant


def seed(*, account: ProviderAccount, stdout: Any) -> None:
    ensure_stock()
    json_merchant = _merchant(account, "Moda Torino (JSON)", "demo-bd-json")
    services.order_create(merchant=json_merchant, items=_items(("148148", 2), ("1578", 1)),
                          provider_options={"autoConfirm": True, "customer_key": "C-100"},
                          **ADDRESS)
    services.order_create(merchant=json_merchant, items=_items(("148148", 1), ("148367", 5)),
                          provider_options={"notes": "Shortfall demo: only 3 bags in stock"},
                          **ADDRESS)
    services.order_create(merchant=json_merchant, items=_items(("999999", 1)),
                          provider_options={"notes": "Unknown stock id demo: fix the SKU"},
                          **ADDRESS)

    xml_account = merchant_services.account_create(
        provider=account.provider, name=f"{account.name} (XML)", environment=account.environment,
        base_url=account.base_url, credentials=XML_CREDENTIALS, options=XML_OPTIONS,
    )
    xml_merchant = _merchant(xml_account, "Moda Milano (XML)", "demo-bd-xml")
    services.order_create(merchant=xml_merchant, items=_items(("1578", 2)),
                          provider_options={"carrierId": "39", "street_type": "Via",
                                            "street_name": "Roma", "address_number": "1"},
                          **ADDRESS)
    services.order_create(merchant=xml_merchant, items=_items(("148367", 4)),
                          provider_options={"autoConfirm": False,
                                            "notes": "Shortfall at the XML reservation"},
                          **ADDRESS)
    stdout.write("    brandsdistribution: JSON account (reserve first) with 3 drafts, "
                 "XML account (reserve first, in XML) with 2 drafts; sandbox stock seeded")
