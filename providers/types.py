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


# --- requests: what the domain hands a provider (built from our models by the domain) ---------
# Frozen copies: a provider reads them and returns results; it never sees or writes our models.
@dataclass(frozen=True)
class AccountConfig:
    """One provider account as a provider needs it (``merchants`` builds it from the model)."""

    pk: int | None
    provider: str
    name: str = ""
    environment: str = "production"
    base_url: str = ""
    credentials: dict[str, Any] = field(default_factory=dict, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    credentials_readable: bool = True
    # read-only snapshot of the account's bookkeeping (cached lists, cursors); never written here
    state: dict[str, Any] = field(default_factory=dict, repr=False)
    label: str = ""  # how people name the account ("Main (Tipser, sandbox)")

    def __str__(self) -> str:
        return self.label or self.name or self.provider


@dataclass(frozen=True)
class MerchantRef:
    pk: int | None
    name: str = ""
    external_id: str = ""  # the merchant's id at the provider


@dataclass(frozen=True)
class ItemRequest:
    pk: int  # our OrderItem's id (results such as confirmed quantities are keyed by it)
    external_id: str = ""
    product_id: str = ""
    sku: str = ""
    name: str = ""
    variant: Any = None
    quantity: int = 1
    unit_price: Decimal | None = None
    total_price: Decimal | None = None  # as the provider last reported it (None: not known)
    state: str = ""  # canonical item state (orders.lifecycle.ItemLifecycle)
    raw_status: str = ""
    next_statuses: tuple[str, ...] | None = None


@dataclass(frozen=True)
class OrderRequest:
    pk: int | None
    reference: str
    merchant: MerchantRef
    items: tuple[ItemRequest, ...] = ()
    external_id: str = ""
    external_ids: tuple[str, ...] = ()
    state: str = ""  # canonical order state (orders.lifecycle.Lifecycle)
    raw_status: str = ""
    contact_name: str = ""
    contact_email: str = ""
    phone_prefix: str = ""
    phone_number: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    currency: str = ""
    items_total: Decimal | None = None
    shipping_total: Decimal | None = None
    total: Decimal | None = None
    # JSON as stored (normally objects; a provider validates what it needs)
    provider_options: Any = field(default_factory=dict)
    raw_data: Any = field(default_factory=dict)
    ordered_at: dt.datetime | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class ShipmentLineRequest:
    item: ItemRequest
    quantity: int = 1


@dataclass(frozen=True)
class ShipmentRequest:
    pk: int | None
    order: OrderRequest
    lines: tuple[ShipmentLineRequest, ...] = ()
    external_id: str = ""
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    comment: str = ""
    notify_customer: bool = True


# --- demo data (``providers/<key>/demo.py``): plain data the seeding side turns into rows -----
@dataclass
class DemoMerchant:
    name: str
    external_id: str = ""
    contact_email: str = ""
    authorized: bool = True
    # each: the keyword arguments of one draft order (items, address fields, provider_options)
    orders: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DemoAccount:
    """One demo account: the seeded one (``name_suffix`` empty, its credentials and options
    already set) or an extra one made beside it with its own credentials and options."""

    merchants: list[DemoMerchant] = field(default_factory=list)
    name_suffix: str = ""
    credentials: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    # incoming orders imported as one sync page, and the sync cursor to keep afterwards
    incoming: list[OrderSnapshot] = field(default_factory=list)
    sync_cursor: dict[str, Any] | None = None


@dataclass
class DemoData:
    accounts: list[DemoAccount]
    note: str = ""  # one line for the command's output
