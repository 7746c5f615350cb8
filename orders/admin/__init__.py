"""Admin of the orders app (one module per seam; importing this package registers them)."""

from .common import (
    CSV_COLUMNS,
    ORDER_FORM_EXTENSIONS,
    TransitionAfterCommitMixin,
    order_form_extension_register,
    pretty_json,
    state_badge,
)
from .filters import MerchantFilter, ProviderFilter, QuickFilter
from .inlines import OrderEventInline, OrderItemInline, ShipmentInline, ShipmentLineInline
from .items import OrderItemAdmin
from .order import BulkShipForm, OrderAdmin
from .records import OrderEventAdmin, ShipmentAdmin

__all__ = [
    "CSV_COLUMNS",
    "ORDER_FORM_EXTENSIONS",
    "BulkShipForm",
    "MerchantFilter",
    "OrderAdmin",
    "OrderEventAdmin",
    "OrderEventInline",
    "OrderItemAdmin",
    "OrderItemInline",
    "ProviderFilter",
    "QuickFilter",
    "ShipmentAdmin",
    "ShipmentInline",
    "ShipmentLineInline",
    "TransitionAfterCommitMixin",
    "order_form_extension_register",
    "pretty_json",
    "state_badge",
]
