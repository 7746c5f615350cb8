"""Plain data passed between the provider layer and the domain (no Django models here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class AddressData:
    contact_name: str = ""
    email: str = ""
    phone_prefix: str = ""
    phone_number: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""  # ISO-3166 alpha-2


@dataclass
class ItemSnapshot:
    external_id: str
    product_id: str = ""
    sku: str = ""
    name: str = ""
    variant: Any = None
    quantity: int = 1
    confirmed_quantity: int | None = None
    unit_price: Decimal | None = None
    total_price: Decimal | None = None
    tax_amount: Decimal | None = None
    merchant_price: Decimal | None = None
    raw_status: str = ""
    next_statuses: list[str] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class ShipmentSnapshot:
    external_id: str  # stable key at the provider (tracking number when nothing better)
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    service: str = ""  # shipping service (e.g. Aliseeks "CAINIAO_STANDARD")
    shipped: bool = True
    delivered: bool = False
    items: dict[str, int] = field(default_factory=dict)  # item external id -> quantity
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrderSnapshot:
    external_id: str
    external_ids: list[str] = field(default_factory=list)
    reference: str = ""  # the provider's human order number, when it has one
    raw_status: str = ""
    state: str | None = None  # canonical state, when the provider's table decides it
    currency: str = ""
    total: Decimal | None = None
    shipping_total: Decimal | None = None
    ordered_at: dt.datetime | None = None
    address: AddressData | None = None
    billing_address: AddressData | None = None
    items: list[ItemSnapshot] = field(default_factory=list)
    shipments: list[ShipmentSnapshot] = field(default_factory=list)
    expires_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class PlacementResult:
    external_ids: list[str]
    raw_status: str = ""
    state: str | None = None
    # our OrderItem pk -> quantity the provider actually took (shortfall when lower)
    confirmed_quantities: dict[int, int] = field(default_factory=dict)
    expires_at: dt.datetime | None = None
    message: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallRecord:
    """One provider HTTP call, credentials already redacted."""

    operation: str
    method: str
    url: str
    http_status: int | None
    duration_ms: int
    outcome: str  # ok | rejected | unavailable | unknown | bad_reply
    message: str = ""


# --- merchant registration (Aliseeks) ---
@dataclass
class MerchantRegistration:
    """A provider's answer to "register this merchant": its id and where to send them."""

    merchant_id: str
    redirect_url: str
