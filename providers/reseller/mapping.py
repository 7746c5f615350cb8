"""Wire <-> domain for the reseller API v3.

Field names of order/item bodies, the execution-status reply and pagination are not published
openly: every name we read or write lives here, lookups are case-insensitive
(``AccountId`` / ``accountId`` / ``accountid``) and tolerant of wrappers. A reply whose shape
we cannot read raises ``ProviderBadReply`` with a readable reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from providers.errors import ProviderBadReply
from providers.types import ItemSnapshot, OrderSnapshot, PlacementResult

from . import statuses

DRAFT_LIFETIME = dt.timedelta(days=7)  # documented: expirationDate = orderDate + 7 days
STAGES = ("Confirmed", "Draft", "All")  # documented: GET /api/orders?stage=…

# --- paging: the doc publishes NO paging parameters --------------------------------------
# ASSUMED (the one place of the guess): a ``page`` query parameter, 1-based. Nothing depends
# on it being honoured: listing reads page after page until the provider returns nothing new
# (an empty page, or a page whose ids were all seen — a provider that ignores ``page`` answers
# the same page again), with MAX_PAGES as a last stop.
PAGE_PARAM = "page"
MAX_PAGES = 1000


def page_params(page: int) -> dict[str, Any]:
    return {PAGE_PARAM: page}


# --- body field names we write: ALL ASSUMED (the doc publishes none, except that AccountId is
# "the only mandatory field for creating the order"). An account may override any of them in
# its options: ``{"field_names": {"reference": "PONumber", ...}}`` (keys as below), so an
# operator can match a real installation without a code change.
FIELD_NAMES: dict[str, str] = {
    "account_id": "AccountId",  # named by the doc ("the AccountID"); exact casing assumed
    "reference": "ExternalReference",  # assumed
    "product_id": "ProductId",  # assumed
    "sku": "Sku",  # assumed
    "name": "Description",  # assumed
    "quantity": "Quantity",  # assumed
    "unit_price": "UnitPrice",  # assumed
    "value_name": "Name",  # assumed (custom fields / characteristics PUT body)
    "value_value": "Value",  # assumed
}
F_ACCOUNT_ID = FIELD_NAMES["account_id"]
F_REFERENCE = FIELD_NAMES["reference"]


def field_names(overrides: Any = None) -> dict[str, str]:
    """The assumed names with an account's overrides (unknown keys and non-text ignored)."""
    names = dict(FIELD_NAMES)
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            if key in names and isinstance(value, str) and value.strip():
                names[key] = value.strip()
    return names


def get(data: Any, *names: str, default: Any = None) -> Any:
    """First present key among ``names``, compared case-insensitively (and ignoring _)."""
    if not isinstance(data, Mapping):
        return default
    folded = {str(k).replace("_", "").lower(): v for k, v in data.items()}
    for name in names:
        value = folded.get(name.replace("_", "").lower())
        if value is not None:
            return value
    return default


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return default


def parse_when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    text = str(value).strip()
    when = parse_datetime(text)
    if when is None:
        day = parse_date(text[:10])
        if day is None:
            return None
        when = dt.datetime.combine(day, dt.time())
    if timezone.is_naive(when):
        when = timezone.make_aware(when, dt.UTC)
    return when


def _need_mapping(body: Any, operation: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ProviderBadReply(f"{operation}: expected an object, got {type(body).__name__}",
                               operation=operation)
    # some BSS replies wrap the object: {"data": {...}}
    inner = get(body, "data", "result", "order", "item")
    return inner if isinstance(inner, Mapping) else body


def object_id(body: Any, operation: str) -> str:
    data = _need_mapping(body, operation)
    value = get(data, "Id", "OrderId", "ItemId", "OrderItemId")
    if value in (None, ""):
        raise ProviderBadReply(f"{operation}: the reply has no id", operation=operation)
    return str(value)


def list_of(body: Any, operation: str) -> list[Mapping[str, Any]]:
    """Rows of a list reply: a bare list, or a wrapper with items/data/results/orders/…"""
    rows = body
    if isinstance(body, Mapping):
        rows = get(body, "items", "data", "results", "orders", "orderItems", "values",
                   "customFields", "characteristics")
    if not isinstance(rows, list):
        raise ProviderBadReply(f"{operation}: expected a list", operation=operation)
    return [r for r in rows if isinstance(r, Mapping)]


# --- requests -------------------------------------------------------------------------------
def draft_body(order: Any, account_id: str, names: Mapping[str, str] = FIELD_NAMES
               ) -> dict[str, Any]:
    return {names["account_id"]: account_id, names["reference"]: order.reference}


def item_body(item: Any, names: Mapping[str, str] = FIELD_NAMES) -> dict[str, Any]:
    body: dict[str, Any] = {names["product_id"]: item.product_id or item.sku,
                            names["quantity"]: int(item.quantity)}
    if item.sku:
        body[names["sku"]] = item.sku
    if item.name:
        body[names["name"]] = item.name
    if item.unit_price is not None:
        body[names["unit_price"]] = str(item.unit_price)
    return body


def values_body(values: Mapping[str, Any], names: Mapping[str, str] = FIELD_NAMES
                ) -> list[dict[str, Any]]:
    """PUT body for custom fields / characteristics: [{"Name": ..., "Value": ...}] (assumed)."""
    return [{names["value_name"]: name, names["value_value"]: value}
            for name, value in values.items()]


# --- replies --------------------------------------------------------------------------------
def item_snapshot(row: Mapping[str, Any]) -> ItemSnapshot:
    return ItemSnapshot(
        external_id=str(get(row, "Id", "ItemId", "OrderItemId", default="")),
        product_id=str(get(row, "ProductId", "ProductCode", default=""))[:120],
        sku=str(get(row, "Sku", "ProductCode", "Code", default=""))[:120],
        name=str(get(row, "Description", "ProductName", "Name", default=""))[:255],
        quantity=max(1, _int(get(row, "Quantity", "Qty"), 1)),
        unit_price=_decimal(get(row, "UnitPrice", "Price")),
        total_price=_decimal(get(row, "Total", "TotalPrice", "Amount")),
        raw=dict(row),
    )


def expires_for(row: Mapping[str, Any]) -> dt.datetime | None:
    explicit = parse_when(get(row, "ExpirationDate", "ExpiresAt", "ExpiryDate"))
    if explicit:
        return explicit
    ordered = parse_when(get(row, "OrderDate", "Date", "CreatedAt"))
    return ordered + DRAFT_LIFETIME if ordered else None


def order_snapshot(body: Any, *, items: Iterable[Mapping[str, Any]] | None = None,
                   operation: str = "get_order") -> OrderSnapshot:
    row = _need_mapping(body, operation)
    external_id = object_id(row, operation)
    raw_status = statuses.normalise(get(row, "Status", "OrderStatus", "StatusName", default=""))
    if isinstance(get(row, "Status"), Mapping):  # {"Status": {"Name": "Draft"}}
        raw_status = statuses.normalise(get(get(row, "Status"), "Name", default=""))
    rows = items if items is not None else get(row, "Items", "OrderItems")
    item_rows = [r for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []
    is_draft = raw_status == statuses.DRAFT
    return OrderSnapshot(
        external_id=external_id,
        external_ids=[external_id],
        reference=str(get(row, "ExternalReference", "OrderNumber", "Number", default=""))[:64],
        raw_status=raw_status,
        state=statuses.state_for(raw_status) if raw_status else None,
        currency=str(get(row, "Currency", "CurrencyCode", default=""))[:3],
        total=_decimal(get(row, "Total", "TotalAmount", "GrandTotal")),
        ordered_at=parse_when(get(row, "OrderDate", "Date", "CreatedAt")),
        items=[item_snapshot(r) for r in item_rows],
        expires_at=expires_for(row) if is_draft else None,
        raw=dict(row),
    )


def draft_result(body: Any, *, now: dt.datetime) -> PlacementResult:
    """Reply to ``POST /api/orders``: the draft's id, status and expiry (orderDate + 7d)."""
    row = _need_mapping(body, "create_draft")
    external_id = object_id(row, "create_draft")
    raw_status = statuses.normalise(get(row, "Status", default="") or statuses.DRAFT)
    expires = expires_for(row) or now + DRAFT_LIFETIME
    return PlacementResult(external_ids=[external_id], raw_status=raw_status,
                           state=statuses.state_for(raw_status), expires_at=expires,
                           raw=dict(row))


def checkout_result(external_id: str, body: Any) -> PlacementResult:
    """Reply to checkout: may be empty (202) or the order; Submitted unless it says more."""
    raw_status = statuses.SUBMITTED
    if body is not None and not isinstance(body, Mapping):
        raise ProviderBadReply(f"checkout: unexpected reply ({type(body).__name__})",
                               operation="checkout")
    if isinstance(body, Mapping):
        raw_status = statuses.normalise(
            get(_need_mapping(body, "checkout"), "Status", default="") or statuses.SUBMITTED
        )
    if raw_status == statuses.DRAFT:
        raise ProviderBadReply("checkout: the order is still a Draft after checkout",
                               operation="checkout")
    return PlacementResult(external_ids=[external_id], raw_status=raw_status,
                           state=statuses.state_for(raw_status),
                           raw=dict(body) if isinstance(body, Mapping) else {})


def execution_result(external_id: str, body: Any) -> PlacementResult:
    row = _need_mapping(body, "execution_status")
    raw = get(row, "Status", "ExecutionStatus", "State")
    if raw in (None, ""):
        raise ProviderBadReply("execution_status: the reply has no status",
                               operation="execution_status")
    raw_status = statuses.normalise(raw)
    return PlacementResult(
        external_ids=[external_id], raw_status=raw_status, state=statuses.state_for(raw_status),
        message=str(get(row, "Message", "Error", "Reason", default=""))[:500], raw=dict(row),
    )


def values_from(body: Any, operation: str) -> list[dict[str, Any]]:
    """Custom fields / characteristics as [{"name", "label", "value", "type", "choices",
    "required"}], from a list of objects or a plain {name: value} object."""
    if isinstance(body, Mapping) and not any(
        str(k).lower() in ("items", "data", "results", "values", "customfields",
                           "characteristics") for k in body
    ):
        return [{"name": str(k), "label": str(k), "value": v, "type": "", "choices": [],
                 "required": False} for k, v in body.items()]
    out = []
    for row in list_of(body, operation):
        name = get(row, "Name", "Key", "Code", "Id")
        if name in (None, ""):
            continue
        choices = get(row, "Options", "Choices", "AllowedValues", default=[])
        out.append({
            "name": str(name),
            "label": str(get(row, "Label", "DisplayName", "Name", default=name)),
            "value": get(row, "Value", default=""),
            "type": str(get(row, "Type", "DataType", default="")),
            "choices": [str(c) for c in choices] if isinstance(choices, list) else [],
            "required": bool(get(row, "Required", "IsRequired", "Mandatory", default=False)),
        })
    return out
