"""Admin of the orders app (one module per seam; importing this package registers them)."""

from django.apps import apps

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

if apps.is_installed("providers.brandsdistribution"):
    # provider glue lives here, not in providers/<key> (which never imports the domain)
    from . import brandsdistribution  # noqa: F401

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
