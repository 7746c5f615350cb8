from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django_fsm.admin import FSMAdminMixin

from providers.errors import ProviderError

from . import services
from .errors import OrderActionRefused
from .models import TRANSITION_PERMISSION, Order, OrderEvent, OrderItem, Shipment, ShipmentLine

STATE_COLOURS = {
    "draft": "#6c757d", "placing": "#0d6efd", "placed": "#0d6efd", "in_progress": "#0dcaf0",
    "partially_shipped": "#6f42c1", "shipped": "#198754", "completed": "#146c43",
    "placement_unknown": "#fd7e14", "failed": "#dc3545", "on_hold": "#ffc107",
    "cancelled": "#495057", "expired": "#adb5bd",
}


def state_badge(obj: Any) -> str:
    colour = STATE_COLOURS.get(obj.state, "#6c757d")
    return format_html(
        '<span class="dd-badge" style="background:{};color:#fff;padding:2px 6px;'
        'border-radius:8px;white-space:nowrap">{}</span>',
        colour, obj.get_state_display(),
    )


def pretty_json(value: Any) -> str:
    return format_html(
        '<details><summary>show</summary><pre style="white-space:pre-wrap">{}</pre></details>',
        json.dumps(value, indent=2, sort_keys=True, default=str),
    )


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ["name", "product_id", "sku", "quantity", "confirmed_quantity", "unit_price",
              "state", "raw_status", "next_statuses"]
    readonly_fields = ["state", "raw_status", "next_statuses", "confirmed_quantity"]
    show_change_link = True

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    has_add_permission = has_change_permission  # type: ignore[assignment]
    has_delete_permission = has_change_permission  # type: ignore[assignment]


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    fields = ["carrier", "tracking_number", "state", "pushed_at", "shipped_at"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "message", "operation", "http_status", "duration_ms",
              "outcome", "actor"]
    readonly_fields = fields
    verbose_name_plural = "Timeline"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["state"]
    list_display = ["reference", "badge", "raw_status", "provider", "merchant", "contact_name",
                    "total", "currency", "created_at"]
    list_filter = ["state", "merchant__account__provider", "merchant"]
    list_select_related = ["merchant__account"]
    search_fields = ["reference", "external_id", "contact_name", "contact_email",
                     "shipments__tracking_number"]
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    readonly_fields = ["state", "raw_status", "failure_reason", "external_id", "external_ids",
                       "items_total", "total", "ordered_at", "placed_at", "synced_at",
                       "expires_at", "created_at", "updated_at", "raw_data_pretty"]
    fieldsets = [
        (None, {"fields": ["merchant", "reference", "state", "raw_status", "failure_reason",
                           "external_id", "external_ids"]}),
        ("Shipping address", {"fields": ["contact_name", "contact_email", "phone_prefix",
                                         "phone_number", "address_line1", "address_line2",
                                         "city", "region", "postal_code", "country"]}),
        ("Money", {"fields": ["currency", "items_total", "shipping_total", "total"]}),
        ("Provider", {"fields": ["provider_options", "raw_data_pretty"]}),
        ("Dates", {"fields": ["ordered_at", "placed_at", "synced_at", "expires_at",
                              "created_at", "updated_at"]}),
    ]
    inlines = [OrderItemInline, ShipmentInline, OrderEventInline]
    actions = ["place_selected", "sync_selected"]

    # --- bulk actions (issue 6): queue work for the worker and return at once ----------------
    @admin.action(description="Place selected orders (in the background)")
    def place_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        if not request.user.has_perm(TRANSITION_PERMISSION):
            self.message_user(request, "You do not have permission to place orders.",
                              messages.ERROR)
            return
        queued, skipped = [], []
        for order in queryset.select_related("merchant__account").order_by("pk"):
            try:
                services.order_place_enqueue(order=order, actor=request.user)
            except OrderActionRefused as exc:
                skipped.append(f"{order.reference} ({exc.message})")
            else:
                queued.append(order.reference)
        if queued:
            self.message_user(request, f"Queued {len(queued)} order(s) for placement: "
                              + ", ".join(queued) + ". They move on their own; refresh to see.",
                              messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {len(skipped)}: " + "; ".join(skipped),
                              messages.WARNING)

    @admin.action(description="Sync selected orders from the provider now")
    def sync_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset.select_related("merchant__account").order_by("pk"):
            try:
                note = services.order_sync_now(order=order, actor=request.user)
            except OrderActionRefused as exc:
                self.message_user(request, f"{order.reference}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, note, messages.SUCCESS)

    @admin.display(description="State", ordering="state")
    def badge(self, obj: Order) -> str:
        return state_badge(obj)

    @admin.display(description="Provider", ordering="merchant__account__provider")
    def provider(self, obj: Order) -> str:
        return obj.merchant.account.get_provider_display()

    @admin.display(description="Raw provider data")
    def raw_data_pretty(self, obj: Order) -> str:
        return pretty_json(obj.raw_data)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and not obj.is_editable:
            editable = [f for fs in self.fieldsets for f in fs[1]["fields"]]
            return tuple(dict.fromkeys([*fields, *editable]))
        if obj is not None:
            return (*fields, "merchant")
        return fields

    # Transition buttons run through the service layer, never the bare model method.
    def _apply_fsm_transition(self, *, obj: Order, transition_name: str, request: HttpRequest,
                              kwargs: Any = None) -> bool:
        try:
            services.order_run_transition(
                order=obj, name=transition_name, actor=request.user, payload=kwargs or {}
            )
        except OrderActionRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return False
        except ProviderError as exc:
            self.message_user(request, f"Provider refused: {exc}", messages.ERROR)
            return False
        obj.refresh_from_db()
        level = messages.WARNING if obj.failure_reason else messages.SUCCESS
        self.message_user(
            request,
            f"{obj.reference}: {transition_name} → {obj.get_state_display()}"
            + (f" — {obj.failure_reason}" if obj.failure_reason else ""),
            level,
        )
        return True

    def _get_fsm_extra_context(self, *, request: HttpRequest, obj: Any) -> Any:
        if not request.user.has_perm(TRANSITION_PERMISSION):
            return iter(())
        return super()._get_fsm_extra_context(request=request, obj=obj)


@admin.register(OrderItem)
class OrderItemAdmin(FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["state"]
    list_display = ["__str__", "order", "sku", "quantity", "confirmed_quantity", "state",
                    "raw_status"]
    list_filter = ["state", "order__merchant__account__provider"]
    list_select_related = ["order__merchant__account"]
    search_fields = ["sku", "product_id", "name", "external_id", "order__reference"]
    readonly_fields = ["order", "state", "raw_status", "next_statuses", "confirmed_quantity",
                       "external_id", "raw_data"]
    raw_id_fields = ["order"]

    def _apply_fsm_transition(self, *, obj: OrderItem, transition_name: str,
                              request: HttpRequest, kwargs: Any = None) -> bool:
        try:
            services.order_items_set_status(
                order=obj.order, items=[obj], transition_name=transition_name,
                actor=request.user, comment=(kwargs or {}).get("comment", ""),
            )
        except (OrderActionRefused, ProviderError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        self.message_user(request, f"Item moved: {transition_name}.", messages.SUCCESS)
        return True

    def _get_fsm_extra_context(self, *, request: HttpRequest, obj: Any) -> Any:
        if not request.user.has_perm(TRANSITION_PERMISSION):
            return iter(())
        return super()._get_fsm_extra_context(request=request, obj=obj)


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    extra = 0
    raw_id_fields = ["item"]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
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
