"""Orders, their items and shipments as state machines, and the append-only timeline.

States change only through django-fsm-2 transitions (``protected=True``); the transitions
here are pure state changes guarded by the provider's status table. Everything that talks
to a provider lives in ``orders.services``, which runs these transitions.

``order`` (the order), ``items`` (items, shipments and their lines), ``records`` (timeline,
provider-write claims, bulk runs, API idempotency keys), ``rollups`` (counts the worker
keeps for the dashboard).
"""

from .items import OrderItem, Shipment, ShipmentLine
from .order import TRANSITION_PERMISSION, Order, new_reference, status_table_for
from .records import BulkRun, BulkRunItem, IdempotencyRecord, OrderEvent, ProviderWrite
from .rollups import OrderDailyCount, OrderDailyCountRefresh

__all__ = [
    "TRANSITION_PERMISSION", "BulkRun", "BulkRunItem", "IdempotencyRecord", "Order",
    "OrderDailyCount", "OrderDailyCountRefresh", "OrderEvent", "OrderItem", "ProviderWrite", "Shipment",
    "ShipmentLine", "new_reference", "status_table_for",
]
