"""Order items and shipments (with their lines): state machines of their own."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from core.models import FSMConcurrencyMixin
from orders.lifecycle import ItemLifecycle

from ..validators import (
    at_least_one,
    money_checks,
    non_negative,
)
from .order import TRANSITION_PERMISSION, I, Order


def _item_allows(target: str) -> Callable[[Any], bool]:
    def condition(item: OrderItem) -> bool:
        return item.order.status_table.item_allows(
            target, raw_status=item.raw_status, next_statuses=item.next_statuses
        )

    condition.__name__ = f"provider_allows_item_{target}"
    return condition



class OrderItem(FSMConcurrencyMixin, models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=120, blank=True, db_index=True)
    product_id = models.CharField(max_length=120, blank=True)
    sku = models.CharField(max_length=120, blank=True, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    variant = models.JSONField(
        default=dict, blank=True, help_text="Variant properties (e.g. Aliseeks sku properties)."
    )
    quantity = models.PositiveIntegerField(default=1, validators=[at_least_one])
    confirmed_quantity = models.PositiveIntegerField(
        null=True, blank=True, help_text="What the provider actually took (shortfall when lower)."
    )
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                     validators=[non_negative])
    total_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                      validators=[non_negative])
    tax_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                     validators=[non_negative])
    merchant_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                         validators=[non_negative])
    state = FSMField(default=I.NEW, choices=ItemLifecycle.CHOICES, protected=True, db_index=True)
    raw_status = models.CharField(max_length=64, blank=True)
    next_statuses = models.JSONField(
        null=True, blank=True, help_text="Next statuses the provider allows, as last received."
    )
    raw_data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order_id", "id"]
        indexes = [
            # the "Short quantity" tab reads only items with a confirmed quantity
            models.Index(fields=["order", "confirmed_quantity", "quantity"],
                         condition=models.Q(confirmed_quantity__isnull=False),
                         name="item_confirmed_qty"),
            # the "To acknowledge" / "To ship" tabs ask, per order, for an item in a state
            models.Index(fields=["state", "order"], name="item_state_order"),
        ]
        constraints = [*money_checks("item", "unit_price", "total_price", "tax_amount",
                                     "merchant_price")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name or self.sku or self.product_id}"

    @property
    def shortfall(self) -> int:
        if self.confirmed_quantity is None:
            return 0
        return max(0, self.quantity - self.confirmed_quantity)

    @property
    def line_total(self) -> Decimal | None:
        if self.total_price is not None:
            return self.total_price
        return self.unit_price * self.quantity if self.unit_price is not None else None

    @property
    def raw_status_label(self) -> str:
        """The provider's documented name for the item's raw status, raw code beside."""
        return self.order.status_table.item_label(self.raw_status)

    @property
    def next_statuses_labels(self) -> list[str]:
        return self.order.status_table.item_labels(self.next_statuses)

    # Item transitions: pure state changes; each allowed only when the provider allows the
    # target (its per-item nextStatuses, else its table). Provider pushes live in services.
    @transition(field=state, source=[I.NEW, I.ON_HOLD], target=I.ACKNOWLEDGED,
                conditions=[_item_allows(I.ACKNOWLEDGED)], permission=TRANSITION_PERMISSION,
                custom={"label": "Acknowledge", "admin": True})
    def acknowledge(self) -> None:
        pass

    @transition(field=state, source=[I.NEW, I.ACKNOWLEDGED], target=I.ON_HOLD,
                conditions=[_item_allows(I.ON_HOLD)], permission=TRANSITION_PERMISSION,
                custom={"label": "Hold", "admin": True})
    def hold(self) -> None:
        pass

    @transition(field=state, source=[I.NEW, I.ACKNOWLEDGED, I.ON_HOLD], target=I.SHIPPED,
                conditions=[_item_allows(I.SHIPPED)], permission=TRANSITION_PERMISSION,
                custom={"label": "Mark shipped", "admin": True})
    def ship(self) -> None:
        pass

    @transition(field=state, source=[I.NEW, I.ACKNOWLEDGED, I.ON_HOLD], target=I.CANCELLED,
                conditions=[_item_allows(I.CANCELLED)], permission=TRANSITION_PERMISSION,
                custom={"label": "Cancel item", "admin": True})
    def cancel(self) -> None:
        pass

    @transition(field=state, source=I.SHIPPED, target=I.RETURNED,
                conditions=[_item_allows(I.RETURNED)], permission=TRANSITION_PERMISSION,
                custom={"label": "Mark returned", "admin": True})
    def mark_returned(self) -> None:
        pass

    @transition(field=state, source="*", target=RETURN_VALUE(*ItemLifecycle.ALL),
                custom={"admin": False})
    def sync_state(self, *, target: str) -> str:
        return target


class Shipment(FSMConcurrencyMixin, models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    external_id = models.CharField(max_length=120, blank=True)
    carrier = models.CharField(max_length=120, blank=True, help_text="Empty: other carrier.")
    service = models.CharField(max_length=120, blank=True, help_text="Shipping service.")
    tracking_number = models.CharField(max_length=120, blank=True, db_index=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    comment = models.CharField(max_length=500, blank=True)
    notify_customer = models.BooleanField(default=True)
    state = FSMField(default=State.PENDING, choices=State.choices, protected=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    raw_data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order_id", "id"]

    def __str__(self) -> str:
        return f"{self.carrier or 'other'} {self.tracking_number}".strip()

    @transition(field=state, source=State.PENDING, target=State.SHIPPED,
                permission=TRANSITION_PERMISSION, custom={"label": "Mark shipped", "admin": True})
    def ship(self) -> None:
        self.shipped_at = self.shipped_at or timezone.now()

    @transition(field=state, source=State.SHIPPED, target=State.DELIVERED,
                permission=TRANSITION_PERMISSION, custom={"label": "Mark delivered", "admin": True})
    def deliver(self) -> None:
        self.delivered_at = self.delivered_at or timezone.now()

    @transition(field=state, source=[State.PENDING, State.SHIPPED], target=State.CANCELLED,
                permission=TRANSITION_PERMISSION, custom={"label": "Cancel", "admin": True})
    def cancel(self) -> None:
        pass

    @transition(field=state, source="*", target=RETURN_VALUE(*State.values),
                custom={"admin": False})
    def sync_state(self, *, target: str) -> str:
        """Apply what the provider reports about this shipment."""
        now = timezone.now()
        if target in (self.State.SHIPPED, self.State.DELIVERED):
            self.shipped_at = self.shipped_at or now
        if target == self.State.DELIVERED:
            self.delivered_at = self.delivered_at or now
        return target


class ShipmentLine(models.Model):
    """Which items a shipment carries, and how many of each."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(OrderItem, on_delete=models.CASCADE, related_name="shipment_lines")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shipment", "item"], name="uniq_shipment_line")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.item}"

