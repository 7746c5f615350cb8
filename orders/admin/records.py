"""Shipments and timeline events."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import (
    HttpRequest,
)

from ..admin_versions import VersionedChangeFormMixin
from ..models import (
    OrderEvent,
    Shipment,
)
from .inlines import ShipmentLineInline


@admin.register(Shipment)
class ShipmentAdmin(VersionedChangeFormMixin, admin.ModelAdmin):
    list_display = ["__str__", "order", "carrier", "tracking_number", "state", "pushed_at",
                    "created_at"]
    list_filter = ["state", "carrier", "order__merchant__account__provider"]
    list_select_related = ["order__merchant__account"]
    search_fields = ["tracking_number", "order__reference", "carrier"]
    readonly_fields = ["order", "state", "pushed_at", "shipped_at", "delivered_at", "raw_data"]
    date_hierarchy = "created_at"
    inlines = [ShipmentLineInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # shipments are created by the order's "Ship" transition


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "order", "kind", "message", "operation", "http_status",
                    "duration_ms", "outcome", "actor"]
    list_filter = ["kind", "outcome"]
    list_select_related = ["order", "actor"]
    search_fields = ["order__reference", "message", "operation"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
