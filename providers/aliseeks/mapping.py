"""Aliseeks wire format <-> our domain: request bodies, validation, tolerant reply parsing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.utils.dateparse import parse_datetime

from orders.lifecycle import Lifecycle as L
from providers.errors import ProviderBadReply
from providers.types import MerchantRegistration, OrderSnapshot, ShipmentSnapshot

from . import statuses

if TYPE_CHECKING:
    from providers.types import ItemRequest, OrderRequest

LOCALES = ("ar_SA", "de_DE", "en_US", "es_ES", "fr_FR", "he_IL", "ko_KR", "pl_PL", "pt_BR",
           "ru_RU", "tr_TR")
DEFAULT_LOCALE = "en_US"
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PREFIX = re.compile(r"^\+?\d{1,4}$")
_PHONE_JUNK = re.compile(r"[\s\-.()/]")
_ID = re.compile(r"^\d{1,20}$")


# --- errors ----------------------------------------------------------------------------------
def error_text(body: Any) -> str:
    """``[{"code","field","violation"}]`` → "productId: may not be null (NotNull); …"."""
    entries = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    parts = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        field = str(entry.get("field") or "").strip()
        violation = str(entry.get("violation") or entry.get("message") or "").strip()
        code = str(entry.get("code") or "").strip()
        if violation and code and violation.startswith(code + " "):
            violation = violation[len(code) + 1:]
        text = violation or code
        if not text and not field:
            continue
        parts.append(f"{field}: {text}" if field else text)
        if code and violation:
            parts[-1] += f" ({code})"
    return "; ".join(parts)


# --- placement -------------------------------------------------------------------------------
def digits(text: str) -> str:
    return _PHONE_JUNK.sub("", text or "")


def item_properties(variant: Any) -> list[dict[str, Any]]:
    """Item sku properties from ``OrderItem.variant``.

    Accepted: ``["14:29#clear", ...]``, ``[{"sku": "14:29#clear"}, ...]``, the older
    ``[{"id": .., "value": ..}]`` form (sent as is), or a dict with ``properties``.
    """
    if isinstance(variant, dict):
        variant = variant.get("properties", variant.get("sku", []))
    if isinstance(variant, str):
        variant = [variant] if variant else []
    result: list[dict[str, Any]] = []
    for prop in variant or []:
        if isinstance(prop, str) and prop.strip():
            result.append({"sku": prop.strip()})
        elif isinstance(prop, dict) and prop:
            result.append(dict(prop))
    return result


def item_shipping_service(item: ItemRequest, order: OrderRequest, default: str = "") -> str:
    variant = item.variant if isinstance(item.variant, dict) else {}
    options = order.provider_options or {}
    return str(
        variant.get("shippingService") or variant.get("shipping_service")
        or options.get("shipping_service") or options.get("shippingService") or default
    ).strip()


def order_locale(order: OrderRequest, default: str = DEFAULT_LOCALE) -> str:
    return str((order.provider_options or {}).get("locale") or default or DEFAULT_LOCALE)


def validate_order(
    order: OrderRequest, items: Iterable[ItemRequest], *, merchant_id: str, default_shipping: str = "",
    default_locale: str = DEFAULT_LOCALE,
) -> dict[str, str]:
    """Field → problem for everything Aliseeks needs and would refuse."""
    problems: dict[str, str] = {}
    if not merchant_id:
        problems["merchant"] = "The merchant has no Aliseeks Merchant ID; authorize it first."
    locale = order_locale(order, default_locale)
    if locale not in LOCALES:
        problems["provider_options.locale"] = (
            f"'{locale}' is not an Aliseeks locale (one of {', '.join(LOCALES)})."
        )
    if not order.contact_name.strip():
        problems["contact_name"] = "Required (the mailing address's contact name)."
    prefix = digits(order.phone_prefix)
    if not prefix:
        problems["phone_prefix"] = "Required: the phone's country prefix, e.g. +1."
    elif not _PREFIX.match(prefix):
        problems["phone_prefix"] = "Must be a country prefix: + and 1 to 4 digits, e.g. +44."
    number = digits(order.phone_number)
    if not number:
        problems["phone_number"] = "Required."
    elif not number.isdigit():
        problems["phone_number"] = "Digits only (spaces and dashes are removed)."
    if not order.address_line1.strip():
        problems["address_line1"] = "Required."
    if not order.city.strip():
        problems["city"] = "Required."
    if not order.region.strip():
        problems["region"] = "Required (Aliseeks' 'state')."
    if not _COUNTRY.match((order.country or "").upper()):
        problems["country"] = "Must be a two-letter ISO country code, e.g. US."
    count = 0
    for index, item in enumerate(items):
        count += 1
        key = f"items[{index}]"
        if not _ID.match(str(item.product_id or "").strip()):
            problems[f"{key}.product_id"] = "Must be the AliExpress product id (digits)."
        if not item.quantity or item.quantity < 1:
            problems[f"{key}.quantity"] = "Must be at least 1."
        if not item_shipping_service(item, order, default_shipping):
            problems[f"{key}.shipping_service"] = (
                "No shipping service: set provider_options.shipping_service on the order "
                "(e.g. CAINIAO_STANDARD) or the account's default."
            )
    if not count:
        problems["items"] = "Add at least one item."
    return problems


def create_body(
    order: OrderRequest, items: Iterable[ItemRequest], *, merchant_id: str, default_shipping: str = "",
    default_locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    prefix = digits(order.phone_prefix)
    return {
        "merchantId": merchant_id,
        "locale": order_locale(order, default_locale),
        "mailingAddress": {
            "contactName": order.contact_name.strip(),
            "phoneNumber": {
                "number": digits(order.phone_number),
                "countryPrefix": prefix if prefix.startswith("+") else f"+{prefix}",
            },
            "address": {
                "line1": order.address_line1.strip(),
                "line2": order.address_line2.strip(),
                "city": order.city.strip(),
                "state": order.region.strip(),
                "country": order.country.upper(),
                "postalCode": order.postal_code.strip(),
            },
        },
        "items": [
            {
                "productId": int(str(item.product_id).strip()),
                "quantity": int(item.quantity),
                "shippingService": item_shipping_service(item, order, default_shipping),
                "properties": item_properties(item.variant),
            }
            for item in items
        ],
    }


def order_ids_from_create(body: dict[str, Any]) -> list[str]:
    """The ids of the created order(s), as strings (numbers on the wire)."""
    ids = body.get("orderIds")
    if not isinstance(ids, list) or not ids:
        raise ProviderBadReply(
            "place_order: the reply has no orderIds; the order may or may not exist on "
            "AliExpress", operation="place_order", details=body,
        )
    result = []
    for value in ids:
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
            raise ProviderBadReply(f"place_order: unreadable order id {value!r}",
                                   operation="place_order", details=body)
        result.append(str(value).strip())
    return list(dict.fromkeys(result))


# --- reading orders back ---------------------------------------------------------------------
def money(value: Any) -> tuple[Decimal | None, str]:
    if not isinstance(value, dict):
        return None, ""
    try:
        amount = Decimal(str(value.get("value")))
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if amount is not None and not amount.is_finite():
        amount = None
    return amount, str(value.get("currency") or "")[:3].upper()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def shipments_from(body: dict[str, Any]) -> list[ShipmentSnapshot]:
    shipping = body.get("shipping")
    result: dict[str, ShipmentSnapshot] = {}
    for entry in shipping if isinstance(shipping, list) else []:
        if not isinstance(entry, dict):
            continue
        tracking = _text(entry.get("trackingNumber"))
        if not tracking:
            continue  # nothing stable to key it by yet
        service = _text(entry.get("shippingService"))
        result.setdefault(tracking, ShipmentSnapshot(
            external_id=tracking, tracking_number=tracking, carrier=service, service=service,
            shipped=True, raw=entry,
        ))
    return list(result.values())


def check_order_reply(body: dict[str, Any], order_id: str) -> None:
    """The docs warn of odd 200 replies: require the documented core of Get Order."""
    got = _text(body.get("id"))
    if not got or "status" not in body:
        raise ProviderBadReply(
            f"fetch_order: the reply for order {order_id} has no id/status",
            operation="fetch_order", details=body,
        )


_ORDER_RANK = {L.PLACED: 1, L.IN_PROGRESS: 2, L.PARTIALLY_SHIPPED: 3, L.SHIPPED: 4,
               L.COMPLETED: 5}


def combined_state(states: list[str | None]) -> str | None:
    """One canonical state for an order AliExpress split into several (None: a sub-order's
    status is unknown, so the order stays where it is and needs the operator)."""
    if None in states:
        return None
    if len(set(states)) == 1:
        return states[0]
    ranks = [_ORDER_RANK.get(s or "", 0) for s in states]
    if max(ranks) >= _ORDER_RANK[L.PARTIALLY_SHIPPED]:
        return L.PARTIALLY_SHIPPED if min(ranks) < _ORDER_RANK[L.SHIPPED] else L.SHIPPED
    return L.IN_PROGRESS if max(ranks) >= _ORDER_RANK[L.IN_PROGRESS] else L.PLACED


def snapshot_from(
    bodies: dict[str, dict[str, Any]], *, keep_raw: dict[str, Any] | None = None
) -> OrderSnapshot:
    """Merge the Get Order replies of every id of our order into one snapshot."""
    table = statuses.STATUSES
    ids = list(bodies)
    raws, states, shipments = [], [], []
    costs: dict[str, dict[str, str]] = {}
    ordered_at: dt.datetime | None = None
    stores = []
    for order_id, body in bodies.items():
        raw = statuses.compose(_text(body.get("status")), _text(body.get("shippingStatus")))
        raws.append(raw)
        states.append(table.order_state_for(raw))
        amount, cur = money(body.get("total"))
        if amount is not None:
            costs[order_id] = {"value": str(amount), "currency": cur}
        created = parse_datetime(_text(body.get("created"))) if body.get("created") else None
        if created and (ordered_at is None or created < ordered_at):
            ordered_at = created
        store = body.get("store")
        if isinstance(store, dict) and store:
            stores.append({"order": order_id, **{k: store.get(k) for k in ("id", "name", "url")}})
        shipments.extend(shipments_from(body))
    # the least advanced sub-order's raw value: what still needs to happen
    raw_status = min(raws, key=lambda r: _ORDER_RANK.get(table.order_state_for(r) or "", 0))
    if len(set(raws)) > 1:
        raw_status = raw_status[:120]
    unique = list({s.external_id: s for s in reversed(shipments)}.values())[::-1]
    return OrderSnapshot(
        external_id=ids[0],
        external_ids=ids,
        raw_status=raw_status,
        state=combined_state(states),
        # The order's own amounts (what our customer pays, in the order's currency) are never
        # overwritten by AliExpress's: what the supplier charges is a separate figure.
        ordered_at=ordered_at,
        shipments=unique,
        raw={**(keep_raw or {}), "orders": bodies, "stores": stores,
             "supplier_cost": supplier_cost(costs)},
    )


def supplier_cost(costs: dict[str, dict[str, str]]) -> dict[str, Any]:
    """What AliExpress charges for the order (Get Order ``total`` of each of its ids), in the
    supplier's currency: ``{"total", "currency", "orders": {id: {"value", "currency"}}}``.
    Sub-orders in different currencies are never added up (``total`` is then empty)."""
    currencies = {c["currency"] for c in costs.values()}
    total = ""
    if costs and len(currencies) == 1:
        total = str(sum((Decimal(c["value"]) for c in costs.values()), Decimal("0")))
    return {"total": total, "currency": next(iter(currencies)) if len(currencies) == 1 else "",
            "orders": costs}


# --- merchant registration -------------------------------------------------------------------
def registration_from(body: dict[str, Any]) -> MerchantRegistration:
    merchant_id = _text(body.get("merchantId"))
    redirect_url = _text(body.get("redirectUrl"))
    parts = urlsplit(redirect_url)
    if not merchant_id or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderBadReply(
            "register_merchant: the reply has no merchantId or no usable redirectUrl",
            operation="register_merchant",
        )
    return MerchantRegistration(merchant_id=merchant_id[:120], redirect_url=redirect_url)
