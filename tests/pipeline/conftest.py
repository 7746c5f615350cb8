from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from django.core.cache import cache

from orders import snapshots
from orders.models import Order
from pipeline.models import RoutingPolicy, SupplierOffer
from providers.tipser import mapping
from tests.factories import MerchantFactory
from tests.providers.tipser.conftest import account, tipser_merchant, wire_order  # noqa: F401

FAKE = "https://fake.example.test"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def policy(account):  # noqa: F811
    return RoutingPolicy.objects.create(account=account)


@pytest.fixture
def suppliers(db):
    return MerchantFactory(name="Supplier A"), MerchantFactory(name="Supplier B")


@pytest.fixture
def offers(suppliers):
    a, b = suppliers
    return [
        SupplierOffer.objects.create(sales_product_id="P1", supplier=a, supplier_sku="A-1",
                                     expected_cost=Decimal("10.00")),
        SupplierOffer.objects.create(sales_product_id="P2", supplier=a, supplier_sku="A-2",
                                     expected_cost=Decimal("12.00")),
        SupplierOffer.objects.create(sales_product_id="P3", supplier=b, supplier_sku="B-3",
                                     expected_cost=Decimal("9.00")),
    ]


def three_item_sale(n: int = 1) -> dict:
    """A Tipser order (acknowledged items, 39.90 each) for products P1, P2 and P3."""
    wire = wire_order(n, status=6, items=3)
    for k, item in enumerate(wire["items"]):
        item["productId"] = f"P{k + 1}"
        item["sku"] = f"SKU-{k + 1}"
    return wire


def sync(account, wires, capture) -> list[Order]:  # noqa: F811
    with capture(execute=True):
        snapshots.upsert_page(account=account, page=[mapping.parse_order(copy.deepcopy(w)) for w in wires])
    return [Order.objects.get(external_id=w["id"]) for w in wires]
