"""Builders shared by the Brandsdistribution tests (and the reliability fault spec)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from merchants.models import ProviderAccount
from orders.models import Order
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

BASE = "https://bd.example.test"
CREATE = f"{BASE}/restful/ghost/orders/0/dropshipping"
RESERVE = f"{BASE}/restful/ghost/orders/sold/"
LOCKED = f"{BASE}/restful/ghost/orders/dropshipping/locked/"
CARRIERS = f"{BASE}/restful/export/carriers"
API_KEY = "bd-key-4711"
PASSWORD = "bd-secret-pass-0815"
# base64("bd-key-4711:bd-secret-pass-0815")
AUTH_HEADER = "Basic YmQta2V5LTQ3MTE6YmQtc2VjcmV0LXBhc3MtMDgxNQ=="
# the documents' own samples, shared with the sandbox (providers/docsamples.py)
FIXTURES = Path(__file__).resolve().parents[3] / "providers" / "brandsdistribution" / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def status_url(reference: str) -> str:
    return f"{BASE}/restful/ghost/clientorders/clientkey/{reference}"


def make_account(*, wire_format: str = "json", reserve_first: bool = False) -> ProviderAccount:
    return AccountFactory(
        provider="brandsdistribution", base_url=BASE,
        credentials={"api_key": API_KEY, "password": PASSWORD},
        options={"wire_format": wire_format, "reserve_first": reserve_first},
    )


def make_order(*, wire_format: str = "json", reserve_first: bool = False,
               items: tuple[tuple[str, int], ...] = (("148148", 10), ("148367", 15)),
               **fields: object) -> Order:
    merchant = MerchantFactory(account=make_account(wire_format=wire_format,
                                                    reserve_first=reserve_first))
    values = dict(
        reference="2345", contact_name="ACME srl", phone_prefix="+39", phone_number="0112838474",
        address_line1="Roma 1", city="TORINO", region="TO", postal_code="10100", country="IT",
        ordered_at=dt.datetime(2017, 1, 31, 23, 59, 59, tzinfo=dt.UTC),
        provider_options={"carrierId": "20", "cfpiva": "12345558", "customer_key": "7777",
                          "street_type": "Via"},
    )
    values.update(fields)
    order = OrderFactory(merchant=merchant, **values)
    for sku, quantity in items:
        OrderItemFactory(order=order, sku=sku, quantity=quantity)
    return order
