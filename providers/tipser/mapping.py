"""Tipser wire format <-> our snapshots. Tolerant parsing: a reply is untrusted input.

A reply that is not the documented envelope raises ``ProviderBadReply``; a missing or oddly
typed field inside an order is data (empty / None), never a crash.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

from orders.lifecycle import ItemLifecycle as I
from orders.lifecycle import Lifecycle as L
from providers.errors import ProviderBadReply
from providers.types import AddressData, ItemSnapshot, OrderSnapshot

from .statuses import STATUSES

logger = logging.getLogger(__name__)
OTHER_CARRIER = ""  # our value for Tipser's `shippingProvider: null` ("other")


# --- small tolerant readers ----------------------------------------------------------------
def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def _money(value: Any) -> Decimal | None:
    """``{"value": 39.9, "currency": "EUR", "formatted": "39,90 €"}`` -> Decimal('39.90')."""
    raw = _dict(value).get("value") if isinstance(value, dict) else value
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return Decimal(str(raw)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _currency(value: Any) -> str:
    return _str(_dict(value).get("currency"))[:3].upper()


def _int(value: Any, default: int = 1) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _datetime(value: Any) -> dt.datetime | None:
    text = _str(value)
    if not text:
        return None
    try:
        parsed = parse_datetime(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _codes(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [str(v) for v in value if isinstance(v, (int, str)) and not isinstance(v, bool)]


# --- addresses -----------------------------------------------------------------------------
def _address(customer: dict[str, Any], which: dict[str, Any]) -> AddressData:
    name = " ".join(
        p for p in (_str(customer.get("firstName")), _str(customer.get("lastName"))) if p
    )
    return AddressData(
        contact_name=name,
        email=_str(customer.get("email")),
        phone_number=_str(customer.get("phoneNumber")),
        line1=_str(which.get("streetAddress")),
        city=_str(which.get("city")),
        postal_code=_str(which.get("zipCode")),
        country=_str(which.get("country"))[:2].upper(),
    )


# --- items and orders ----------------------------------------------------------------------
def parse_item(raw: dict[str, Any]) -> ItemSnapshot:
    quantity = max(1, _int(raw.get("quantity", raw.get("amount")), 1))
    total = _money(raw.get("totalPriceIncVat"))
    attributes = _str(raw.get("attributesValue"))
    status = raw.get("status")
    return ItemSnapshot(
        external_id=_str(raw.get("id")),
        product_id=_str(raw.get("productId")),
        sku=_str(raw.get("sku")) or _str(raw.get("merchantProductId")),
        name=_str(raw.get("productName")),
        variant={"attributesValue": attributes} if attributes else None,
        quantity=quantity,
        unit_price=(total / quantity).quantize(Decimal("0.01")) if total is not None else None,
        total_price=total,
        tax_amount=_money(raw.get("vatValue")),
        merchant_price=_money(raw.get("merchantPriceIncVat")),
        raw_status="" if status is None else _str(status),
        next_statuses=_codes(raw.get("nextStatuses")),
        raw=raw,
    )


def order_state_from_items(items: Iterable[ItemSnapshot]) -> str:
    """The canonical order state, derived from the item statuses (the order-level status
    values are not published). Unknown item codes count as "still being worked on"."""
    return order_state_from_item_states([STATUSES.item_state_for(i.raw_status) for i in items])


def order_state_from_item_states(states: list[str | None]) -> str:
    if not states:
        return L.IN_PROGRESS
    live = [s for s in states if s != I.CANCELLED]
    if not live:
        return L.CANCELLED
    done = [s for s in live if s in (I.SHIPPED, I.RETURNED)]
    if len(done) == len(live):
        return L.SHIPPED
    if done:
        return L.PARTIALLY_SHIPPED
    if all(s == I.ON_HOLD for s in live):
        return L.ON_HOLD
    if all(s == I.NEW for s in live):
        return L.PLACED
    return L.IN_PROGRESS


def parse_order(raw: Any) -> OrderSnapshot:
    if not isinstance(raw, dict) or not _str(raw.get("id")):
        raise ProviderBadReply("Tipser order without an id", operation="parse_order")
    customer = _dict(raw.get("customer"))
    home = _dict(customer.get("homeAddress"))
    delivery = _dict(customer.get("deliveryAddress"))
    if customer.get("useHomeAddressAsDeliveryAddress") is True or not delivery:
        delivery = home
    raw_items: list[Any] = raw["items"] if isinstance(raw.get("items"), list) else []
    items = [parse_item(i) for i in raw_items if isinstance(i, dict) and _str(i.get("id"))]
    shipping = _dict(raw.get("shippingLines"))
    shipping_total = _money(shipping.get("priceIncVat"))
    currency = next(
        (
            c
            for c in (
                _currency(i.get("totalPriceIncVat")) for i in raw_items if isinstance(i, dict)
            )
            if c
        ),
        _currency(shipping.get("priceIncVat")),
    )
    prices = [i.total_price for i in items if i.total_price is not None]
    total = (sum(prices, Decimal("0")) + (shipping_total or Decimal("0"))) if prices else None
    status = raw.get("status")
    return OrderSnapshot(
        external_id=_str(raw.get("id")),
        reference=_str(raw.get("orderNumber")),
        raw_status="" if status is None else _str(status),
        state=order_state_from_items(items),
        currency=currency,
        total=total,
        shipping_total=shipping_total,
        ordered_at=_datetime(raw.get("orderDate")),
        address=_address(customer, delivery),
        billing_address=_address(customer, home),
        items=items,
        raw=raw,
    )


def parse_order_page(body: Any) -> tuple[list[OrderSnapshot], int | None]:
    """``{"itemsCount", "pageIndex", "items": [...]}`` -> (orders, itemsCount).

    A malformed entry is skipped (logged), so one odd order cannot block the others.
    """
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise ProviderBadReply(
            "list_orders: the reply has no 'items' list", operation="list_orders"
        )
    orders = []
    for entry in body["items"]:
        try:
            orders.append(parse_order(entry))
        except ProviderBadReply:
            logger.warning("Tipser list: skipped an entry without an order id")
    count = body.get("itemsCount")
    return orders, (count if isinstance(count, int) and not isinstance(count, bool) else None)


# --- requests ------------------------------------------------------------------------------
def status_body(code: str, item_ids: list[str], comment: str) -> dict[str, Any]:
    return {"status": int(code), "orderItemsIds": item_ids, "comment": comment}


def shipping_body(
    *, carrier: str, tracking_number: str, comment: str, notify: bool, item_ids: list[str]
) -> dict[str, Any]:
    return {
        "shippingProvider": carrier.strip() or None,  # null = "other" carrier
        "comment": comment,
        "sendDeliveryNoteToCustomer": bool(notify),
        "trackingNumber": tracking_number,
        "orderItemsIds": item_ids,
    }


# --- markets -> carrier names --------------------------------------------------------------
CARRIER_KEYS = ("shippingProviders", "shippingProvider", "carriers", "shippers")


def parse_carriers(body: Any) -> list[str]:
    """Carrier names from ``GET /v3/markets`` (shape unpublished: walk it defensively).

    Accepts lists of names or of objects with ``name``/``id``, under any of ``CARRIER_KEYS``,
    at any depth (markets list, ``{"markets": [...]}``, one market object…).
    """
    found: dict[str, None] = {}

    def take(value: Any) -> None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            name = (
                _str(v.get("name") or v.get("id"))
                if isinstance(v, dict)
                else (v.strip() if isinstance(v, str) else "")
            )
            if name and len(name) <= 120:
                found.setdefault(name, None)

    def walk(node: Any, depth: int = 0) -> None:
        if depth > 6:
            return
        if isinstance(node, list):
            for child in node:
                walk(child, depth + 1)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in CARRIER_KEYS:
                    take(value)
                elif isinstance(value, (dict, list)):
                    walk(value, depth + 1)

    walk(body)
    return sorted(found, key=str.lower)


MARKET_KEYS = ("id", "code", "countryCode", "country", "market", "marketId")


def carriers_by_market(body: Any) -> dict[str, list[str]]:
    """Carrier names per market of ``GET /v3/markets`` ("in proper market section"): each
    market object found (a dict with carriers under ``CARRIER_KEYS``) is keyed by every
    identifier it carries (``MARKET_KEYS``, lower-cased) and by ``currency:<code>``."""
    markets: dict[str, list[str]] = {}

    def walk(node: Any, depth: int = 0) -> None:
        if depth > 6:
            return
        if isinstance(node, list):
            for child in node:
                walk(child, depth + 1)
        elif isinstance(node, dict):
            if any(k in node for k in CARRIER_KEYS):
                names = parse_carriers({k: node[k] for k in CARRIER_KEYS if k in node})
                for key in MARKET_KEYS:
                    value = _str(node.get(key)) if isinstance(node.get(key), str) else ""
                    if value:
                        markets.setdefault(value.lower(), names)
                currency = node.get("currency")
                if isinstance(currency, str) and currency.strip():
                    markets.setdefault(f"currency:{currency.strip().upper()}", names)
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value, depth + 1)

    walk(body)
    return markets


def market_carriers(markets: dict[str, list[str]], *, country: str, currency: str
                    ) -> list[str] | None:
    """The carriers of the order's market: by its delivery country, else by a currency only
    one market uses; None when no market matches."""
    if country and country.lower() in markets:
        return markets[country.lower()]
    if currency:
        by_currency = markets.get(f"currency:{currency.upper()}")
        same = [k for k, v in markets.items() if k.startswith("currency:") and v == by_currency]
        if by_currency is not None and len(same) == 1:
            return by_currency
    return None
