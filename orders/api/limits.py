"""Money the database can hold: an order's totals are 12 digits with 2 decimals.

Each amount a client sends fits (the schema's pattern), but a product or a sum of them may
not: quantity × unit price, the items' total plus shipping. Such a request is well formed and
conflicts with what the order already holds, so it is refused with 409 before anything is
stored (a total beyond the column's precision could be written and never read back)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from api.errors import ApiError

MONEY_LIMIT = Decimal("9999999999.99")


def _line(item: Mapping[str, Any]) -> Decimal:
    price = item.get("unit_price")
    return Decimal(price) * int(item.get("quantity") or 1) if price is not None else Decimal(0)


def order_totals_check(*, order: Any = None, items: Iterable[Mapping[str, Any]] = (),
                       shipping_total: Any = None) -> None:
    """Refuse (409 ``total_too_large``) when the order's totals would not fit."""
    lines = [_line(item) for item in items]
    fields: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        if abs(line) > MONEY_LIMIT:
            fields[f"items.{index}"] = [f"Quantity × unit price is beyond {MONEY_LIMIT}."]
    stored = (sum((_line(row) for row in order.items.values("unit_price", "quantity")),
                  Decimal(0)) if order is not None else Decimal(0))
    items_total = sum(lines, Decimal(0)) + stored
    shipping = Decimal(shipping_total if shipping_total is not None
                       else (order.shipping_total if order is not None else 0))
    if abs(items_total) > MONEY_LIMIT or abs(items_total + shipping) > MONEY_LIMIT:
        fields.setdefault("items_total", [f"The order's total would be beyond {MONEY_LIMIT}."])
    if fields:
        raise ApiError(409, "total_too_large", "The order's totals would be too large.",
                       fields=fields)
