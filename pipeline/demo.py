"""Demo data for the order pipeline (``manage.py seed_pipeline_demo``, run by ``make run`` after
``seed_demo``): the Tipser demo account routes its sales to the Brandsdistribution and Aliseeks
demo merchants. Its sandbox sells five products (providers/tipser/sandbox.py CATALOG):

* POMEGRANATE and the linen shirt → Brandsdistribution (stock ids of its sandbox), with the XML
  merchant as the fallback for the first;
* the wool scarf → Aliseeks, in EUR;
* the ceramic mug → Aliseeks at a USD cost: a sale of it is *held for approval* (the currencies
  cannot be compared);
* the leather wallet has no offer: a sale of it waits under *Needs mapping* until an offer is
  imported (README's walkthrough).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from merchants.models import Merchant, ProviderAccount
from orders.models import Order

from . import services
from .models import PlaceMode, RouteMode, RoutingPolicy, SupplierOffer

# sales SKU, (supplier provider, merchant name), supplier product id, supplier SKU, variant,
# expected cost, currency, priority
OFFERS: list[tuple[str, tuple[str, str], str, str, Any, str, str, int]] = [
    ("8809389031511", ("brandsdistribution", "Moda Torino (JSON)"), "1578", "1578", {},
     "14.50", "EUR", 1),
    ("8809389031511", ("brandsdistribution", "Moda Milano (XML)"), "1578", "1578", {},
     "15.00", "EUR", 2),
    ("7350071234567", ("brandsdistribution", "Moda Torino (JSON)"), "148148", "148148", {},
     "29.00", "EUR", 1),
    ("7350071234581", ("aliseeks", "Aliseeks demo shop"), "32690828906", "", ["14:29#clear"],
     "12.00", "EUR", 1),
    ("7350071234574", ("aliseeks", "Aliseeks demo shop"), "32999000124", "", [{"sku": "14:193#black"}],
     "3.10", "USD", 1),
]


def _supplier(provider: str, name: str) -> Merchant | None:
    return Merchant.objects.filter(account__provider=provider, name=name).first()


@transaction.atomic
def seed(*, stdout: Any) -> None:
    account = ProviderAccount.objects.filter(provider="tipser", name="Tipser demo").first()
    if account is None:
        stdout.write("  Order pipeline: no Tipser demo account (run seed_demo first)")
        return
    if RoutingPolicy.objects.filter(account=account).exists():
        stdout.write("  Order pipeline: exists")
        return
    RoutingPolicy.objects.create(account=account, route_mode=RouteMode.AUTO, place_mode=PlaceMode.MANUAL)
    created = 0
    for sku, (provider, name), product_id, supplier_sku, variant, cost, currency, priority in OFFERS:
        supplier = _supplier(provider, name)
        if supplier is None:
            continue
        SupplierOffer.objects.create(
            sales_sku=sku, supplier=supplier, supplier_product_id=product_id, supplier_sku=supplier_sku,
            supplier_variant=variant, expected_cost=Decimal(cost), cost_currency=currency, priority=priority,
        )
        created += 1
    outcomes: dict[str, int] = {}
    for order in Order.objects.filter(merchant__account=account).order_by("pk"):
        status = services.sales_order_route(order=order).status
        outcomes[status] = outcomes.get(status, 0) + 1
    stdout.write(f"  Order pipeline: {created} supplier offers; Tipser demo orders → "
                 + ", ".join(f"{n} {status}" for status, n in sorted(outcomes.items())))
