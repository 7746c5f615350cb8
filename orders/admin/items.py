"""The order item admin and its item-status bulk actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
)
from django_fsm.admin import FSMAdminMixin

from .. import dispatch, labels
from ..admin_versions import VersionedChangeFormMixin
from ..errors import OrderActionRefused
from ..models import (
    TRANSITION_PERMISSION,
    Order,
    OrderItem,
)
from .commands import dispatched_message
from .common import (
    OperatorWordsMixin,
    RunTransitionsPermissionMixin,
    TransitionAfterCommitMixin,
)
from .inlines import OrderItemInline


@admin.register(OrderItem)
class OrderItemAdmin(VersionedChangeFormMixin, OperatorWordsMixin, RunTransitionsPermissionMixin,
                     TransitionAfterCommitMixin,
                     FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["state"]
    change_form_template = "admin/orders/orderitem/change_form.html"  # + the base version
    list_display = ["__str__", "order", "sku", "quantity", "confirmed_quantity", "state",
                    "provider_status"]
    list_filter = ["state", "order__merchant__account__provider"]
    list_select_related = ["order__merchant__account"]
    search_fields = ["sku", "product_id", "name", "external_id", "order__reference"]
    readonly_fields = ["order", "state", "provider_status", "may_become", "confirmed_quantity",
                       "external_id", "raw_data"]
    exclude = ["raw_status", "next_statuses"]
    raw_id_fields = ["order"]
    provider_status = OrderItemInline.provider_status
    may_become = OrderItemInline.may_become

    def _apply_fsm_transition(self, *, obj: Any, transition_name: str,
                              request: HttpRequest, kwargs: Any = None) -> bool:
        try:
            result = dispatch.order_items_status_enqueue(
                order=obj.order, items=[obj], transition_name=transition_name,
                actor=request.user, comment=(kwargs or {}).get("comment", ""),
            )
        except OrderActionRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        self.message_user(request, f"Item: {labels.action_label(transition_name)} — "
                          f"{dispatched_message(result)}", messages.SUCCESS)
        return True

    def _get_fsm_extra_context(self, *, request: HttpRequest, obj: Any) -> Any:
        if not request.user.has_perm(TRANSITION_PERMISSION):
            return iter(())
        return super()._get_fsm_extra_context(request=request, obj=obj)


# --- item status bulk actions (Tipser: one request per order with all chosen item ids) ---
def _items_bulk(transition_name: str, label: str):  # type: ignore[no-untyped-def]
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        from collections import defaultdict

        if queryset.model is Order:
            queryset = OrderItem.objects.filter(order__in=queryset)
        by_order: dict[int, list[OrderItem]] = defaultdict(list)
        for item in queryset.select_related("order__merchant__account").order_by("order_id", "id"):
            by_order[item.order_id].append(item)
        for items in by_order.values():
            order = items[0].order
            if modeladmin.model is Order:  # whole orders: the items that can move
                from django_fsm import can_proceed

                items = [i for i in items if can_proceed(getattr(i, transition_name))]
                if not items:
                    continue
            try:
                dispatch.order_items_status_enqueue(order=order, items=items,
                                                    transition_name=transition_name,
                                                    actor=request.user)
            except OrderActionRefused as exc:
                modeladmin.message_user(request, f"{order}: {exc}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{order}: {label} — {len(items)} item(s) "
                                        "queued", messages.SUCCESS)

    action.__name__ = f"items_{transition_name}"
    action.short_description = f"{label} (items, one provider request per order, queued)"  # type: ignore[attr-defined]
    action.allowed_permissions = ("run_transitions",)  # type: ignore[attr-defined]
    return action


OrderItemAdmin.actions = [
    _items_bulk(name, label) for name, label in
    [("acknowledge", "Acknowledge"), ("hold", "Hold"), ("cancel", "Cancel"),
     ("mark_returned", "Mark returned")]
]
