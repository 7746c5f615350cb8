"""Bulk demo rows for benchmarks (fast: bulk_create in batches)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal


def ensure_orders(n: int, *, provider: str = "tipser") -> None:
    """Make sure at least ``n`` orders (with two items each) exist for a bench merchant."""
    from django.utils import timezone

    from merchants.models import Merchant, ProviderAccount
    from orders.lifecycle import Lifecycle
    from orders.models import Order, OrderItem

    account, _ = ProviderAccount.objects.get_or_create(
        provider=provider, name="bench", defaults={"environment": "sandbox"})
    merchants = list(Merchant.objects.filter(account=account).order_by("pk"))
    while len(merchants) < 20:
        merchants.append(Merchant.objects.create(account=account, name=f"bench merchant {len(merchants)}",
                                                 external_id=f"bench-{len(merchants)}"))
    have = Order.objects.filter(merchant__account=account).count()
    states = [s for s in Lifecycle.ALL]
    now = timezone.now()
    batch = 5000
    for start in range(have, n, batch):
        orders = []
        for k in range(start, min(n, start + batch)):
            order = Order(
                merchant=merchants[k % len(merchants)], reference=f"BENCH-{k:07d}",
                external_id=f"X{k}", contact_name=f"Customer {k}", contact_email=f"c{k}@example.test",
                country="SE", city="Stockholm", currency="EUR", total=Decimal("49.90"),
                created_at=now - dt.timedelta(minutes=k),
            )
            order.sync_state(target=states[k % len(states)])
            orders.append(order)
        Order.objects.bulk_create(orders)
        created = Order.objects.filter(reference__in=[o.reference for o in orders]).values_list("pk", flat=True)
        OrderItem.objects.bulk_create(
            [OrderItem(order_id=pk, sku=f"SKU{pk}-{j}", name="Bench item", quantity=1 + j,
                       unit_price=Decimal("19.95")) for pk in created for j in range(2)],
            batch_size=5000,
        )
