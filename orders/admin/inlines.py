"""Inlines of the order and shipment pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
)

from .. import labels
from ..models import (
    OrderEvent,
    OrderItem,
    Shipment,
    ShipmentLine,
)


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ["name", "product_id", "sku", "quantity", "confirmed_quantity", "unit_price",
              "state", "provider_status", "may_become"]
    readonly_fields = ["state", "provider_status", "may_become", "confirmed_quantity"]
    show_change_link = True

    @admin.display(description="Provider status")
    def provider_status(self, obj: OrderItem) -> str:
        if not obj.pk or not obj.raw_status:
            return "—"
        return labels.provider_code(obj.order.status_table, obj.raw_status, items=True)

    @admin.display(description="Provider allows next")
    def may_become(self, obj: OrderItem) -> str:
        if not obj.pk or obj.next_statuses is None:
            return "—"
        return labels.provider_codes(obj.order.status_table, obj.next_statuses)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    has_add_permission = has_change_permission  # type: ignore[assignment]
    has_delete_permission = has_change_permission  # type: ignore[assignment]


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    fields = readonly_fields = ("carrier", "tracking_number", "state", "pushed_at", "shipped_at")
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "kind", "message", "operation", "http_status",
                                "duration_ms", "outcome", "actor")
    verbose_name_plural = "Timeline"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    extra = 0
    raw_id_fields = ["item"]
