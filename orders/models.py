"""Orders, their items and shipments as state machines, and the append-only timeline.

States change only through django-fsm-2 transitions (``protected=True``); the transitions
here are pure state changes guarded by the provider's status table. Everything that talks
to a provider lives in ``orders.services``, which runs these transitions.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from merchants.models import AppendOnlyModel, FSMConcurrencyMixin, Merchant
from providers import registry
from providers.statuses import ItemLifecycle, Lifecycle, StatusTable

from .validators import (
    CodeField,
    at_least_one,
    code_checks,
    money_checks,
    non_negative,
    validate_country_code,
    validate_currency_code,
)

S = Lifecycle
I = ItemLifecycle  # noqa: E741
_EMPTY_TABLE = StatusTable(provider="")
TRANSITION_PERMISSION = "orders.run_order_transitions"


def new_reference() -> str:
    return "DD-" + timezone.now().strftime("%y%m%d") + "-" + secrets.token_hex(3).upper()


def status_table_for(provider_key: str) -> StatusTable:
    cls = registry.get(provider_key)
    return cls.statuses if cls is not None else _EMPTY_TABLE


# --- transition conditions (they read the provider's status table) -----------------------
def _provider_allows(action: str, target: str | None = None) -> Callable[[Any], bool]:
    def condition(order: Order) -> bool:
        return order.status_table.order_allows(action, raw_status=order.raw_status, target=target)

    condition.__name__ = f"provider_allows_{action}"
    return condition


def _cancel_allowed(order: Any) -> bool:
    if order.state in (S.DRAFT, S.FAILED) and not order.external_id:
        return True  # never reached the provider: a local cancel
    return order.status_table.order_allows("cancel", raw_status=order.raw_status, target=S.CANCELLED)


def _open_shortfall(order: Any) -> bool:
    return bool(order.has_open_shortfall)


def _item_allows(target: str) -> Callable[[Any], bool]:
    def condition(item: OrderItem) -> bool:
        return item.order.status_table.item_allows(
            target, raw_status=item.raw_status, next_statuses=item.next_statuses
        )

    condition.__name__ = f"provider_allows_item_{target}"
    return condition


class Order(FSMConcurrencyMixin, models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="orders")
    reference = models.CharField(max_length=64, unique=True, default=new_reference)
    external_id = models.CharField(
        max_length=120, blank=True, db_index=True, help_text="The provider's (first) order id."
    )
    external_ids = models.JSONField(default=list, blank=True)
    state = FSMField(default=S.DRAFT, choices=Lifecycle.CHOICES, protected=True, db_index=True)
    raw_status = models.CharField(max_length=120, blank=True, help_text="As the provider says.")
    failure_reason = models.TextField(blank=True)

    # shipping address
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    phone_prefix = models.CharField(max_length=8, blank=True)
    phone_number = models.CharField(max_length=32, blank=True)
    address_line1 = models.CharField(max_length=255, blank=True)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    country = CodeField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2",
                        validators=[validate_country_code])

    currency = CodeField(max_length=3, default="EUR", help_text="ISO 4217",
                         validators=[validate_currency_code])
    items_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"),
                                      validators=[non_negative])
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"),
                                         validators=[non_negative])
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"),
                                validators=[non_negative])

    # per-order choices the provider needs (carrier id, autoConfirm, locale, AccountId, …)
    provider_options = models.JSONField(default=dict, blank=True)
    raw_data = models.JSONField(default=dict, blank=True)

    ordered_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [(TRANSITION_PERMISSION.split(".")[1], "Can run order transitions")]
        indexes = [
            models.Index(fields=["state", "-created_at"], name="order_state_created"),
            models.Index(fields=["merchant", "state"], name="order_merchant_state"),
            # the list's default order (admin changelist, API): no sort of the whole table
            models.Index(fields=["-created_at", "-id"], name="order_created_id"),
            # the admin's tab counts seek, not scan the open states (orders.selectors)
            models.Index(fields=["state", "placed_at"], name="order_state_placed"),
            models.Index(fields=["state", "raw_status"], name="order_state_raw_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"],
                condition=~models.Q(external_id=""),
                name="uniq_order_external_id_per_merchant",
            ),
            *money_checks("order", "items_total", "shipping_total", "total"),
            *code_checks(),
        ]

    def __str__(self) -> str:
        return self.reference

    # --- derived -------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        return self.merchant.account.provider

    @property
    def status_table(self) -> StatusTable:
        return status_table_for(self.provider)

    @property
    def raw_status_label(self) -> str:
        return self.status_table.order_label(self.raw_status)

    @property
    def is_editable(self) -> bool:
        return self.state == S.DRAFT

    @property
    def supplier_cost(self) -> dict[str, Any]:
        """What the supplier charges for this order, in the supplier's currency (as its
        provider reported it; e.g. AliExpress via Aliseeks) — separate from the order's own
        amounts (``currency``/``items_total``/``shipping_total``/``total``)."""
        cost = (self.raw_data or {}).get("supplier_cost")
        return cost if isinstance(cost, dict) else {}

    # --- transitions ---------------------------------------------------------------------
    @transition(
        field=state,
        source=[S.DRAFT, S.FAILED],
        target=S.PLACING,
        conditions=[_provider_allows("place")],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Place with provider", "admin": True, "long": True},
    )
    def place(self) -> None:
        self.failure_reason = ""

    @transition(field=state, source=S.PLACING, target=S.PLACED, custom={"admin": False})
    def placement_succeeded(self) -> None:
        self.failure_reason = ""
        self.placed_at = timezone.now()

    @transition(field=state, source=S.PLACING, target=S.FAILED, custom={"admin": False})
    def placement_failed(self, *, reason: str) -> None:
        self.failure_reason = reason

    @transition(field=state, source=S.PLACING, target=S.PLACEMENT_UNKNOWN, custom={"admin": False})
    def placement_outcome_unknown(self, *, reason: str) -> None:
        self.failure_reason = reason

    @transition(
        field=state,
        source=S.PLACEMENT_UNKNOWN,
        target=RETURN_VALUE(S.PLACED, S.DRAFT),
        permission=TRANSITION_PERMISSION,
        custom={
            "label": "Reconcile placement",
            "admin": True,
            "form": "orders.forms.ReconcileForm",
            "help_text": "Enter the provider's order id if it was placed, or confirm it was not.",
        },
    )
    def reconcile(self, *, placed: bool, external_id: str = "") -> str:
        if placed:
            if external_id:
                self.external_id = external_id
                self.external_ids = [external_id]
            self.placed_at = self.placed_at or timezone.now()
            self.failure_reason = ""
            return S.PLACED
        self.failure_reason = ""
        return S.DRAFT

    @transition(
        field=state,
        source=S.FAILED,
        target=S.DRAFT,
        permission=TRANSITION_PERMISSION,
        custom={"label": "Back to draft (to correct)", "admin": True},
    )
    def reopen(self) -> None:
        pass

    @transition(
        field=state,
        source=[S.PLACED, S.IN_PROGRESS, S.PARTIALLY_SHIPPED],
        target=S.ON_HOLD,
        conditions=[_provider_allows("hold", S.ON_HOLD)],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Put on hold", "admin": True},
    )
    def hold(self) -> None:
        pass

    @transition(
        field=state,
        source=S.ON_HOLD,
        target=S.IN_PROGRESS,
        conditions=[_provider_allows("release")],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Release hold", "admin": True},
    )
    def release(self) -> None:
        pass

    @transition(
        field=state,
        source=[S.PLACED, S.IN_PROGRESS, S.PARTIALLY_SHIPPED],
        target=RETURN_VALUE(S.PARTIALLY_SHIPPED, S.SHIPPED),
        conditions=[_provider_allows("ship")],
        permission=TRANSITION_PERMISSION,
        custom={
            "label": "Ship (add tracking)",
            "admin": True,
            "form": "orders.forms.ShipForm",
        },
    )
    def ship(self, *, complete: bool) -> str:
        return S.SHIPPED if complete else S.PARTIALLY_SHIPPED

    @transition(
        field=state,
        source=S.SHIPPED,
        target=S.COMPLETED,
        conditions=[_provider_allows("complete")],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Mark completed", "admin": True},
    )
    def complete(self) -> None:
        pass

    @transition(
        field=state,
        source=[S.DRAFT, S.FAILED, S.PLACED, S.IN_PROGRESS, S.ON_HOLD],
        target=S.CANCELLED,
        conditions=[_cancel_allowed],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Cancel", "admin": True, "form": "orders.forms.CancelForm"},
    )
    def cancel(self, *, reason: str = "") -> None:
        if reason:
            self.failure_reason = reason

    @transition(field=state, source=S.DRAFT, target=S.EXPIRED, custom={"admin": False})
    def expire(self) -> None:
        pass

    @transition(field=state, source="*", target=RETURN_VALUE(*Lifecycle.ALL),
                custom={"admin": False})
    def sync_state(self, *, target: str) -> str:
        """Apply the state the provider reports (mapped through its status table)."""
        return target

    # --- shortfall decision (a provider took or held less than asked) ---
    @property
    def has_open_shortfall(self) -> bool:
        if (self.raw_data or {}).get("shortfall", {}).get("accepted_at"):
            return False
        return any(item.shortfall for item in self.items.all())

    @transition(
        field=state,
        source=[S.FAILED, S.PLACED, S.IN_PROGRESS, S.ON_HOLD, S.PARTIALLY_SHIPPED, S.SHIPPED],
        target=RETURN_VALUE(S.DRAFT, S.PLACED, S.IN_PROGRESS, S.ON_HOLD, S.PARTIALLY_SHIPPED,
                            S.SHIPPED),
        conditions=[_open_shortfall],  # type: ignore[list-item]
        permission=TRANSITION_PERMISSION,
        custom={"label": "Accept shortfall (partial quantities)", "admin": True},
    )
    def accept_shortfall(self) -> str:
        """Not sent yet (reservation shortfall): back to draft; else: stay where it is."""
        if self.state == S.FAILED and not self.external_id:
            self.failure_reason = ""
            return S.DRAFT
        return self.state


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


class OrderEvent(AppendOnlyModel):
    """Append-only timeline: transitions, provider calls, syncs, notes."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", "State change"
        PROVIDER_CALL = "provider_call", "Provider call"
        SYNC = "sync", "Sync"
        NOTE = "note", "Operator note"
        SHIPMENT = "shipment", "Shipment"
        ITEM = "item", "Item"
        ERROR = "error", "Error"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    message = models.TextField(blank=True)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    operation = models.CharField(max_length=64, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


# --- provider writes: one in flight per order (issue 21) ------------------------------------
class ProviderWrite(models.Model):
    """The claim on an order taken before a provider write (a shipping push, an item status,
    a provider draft, an item add/remove, custom fields…), committed before the call.

    At most one claim per order is ``in_flight`` (a partial unique index): a concurrent
    request finds it and is answered from it, never sent. ``orders.claims`` takes and settles
    them."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "Being sent"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused by the provider"
        UNKNOWN = "unknown", "Outcome unknown"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="provider_writes")
    operation = models.CharField(max_length=64)
    label = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=255, blank=True, help_text="What was asked (the intent).")
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=models.Q(state="in_flight"),
                                    name="uniq_provider_write_in_flight"),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.operation} ({self.get_state_display()})"


# --- admin bulk runs ---------------------------------------------------------------------------
class BulkRun(models.Model):
    """One admin bulk action over many orders; each order's outcome is a BulkRunItem row
    (written by the worker that ran it), so the changelist can show progress."""

    action = models.CharField(max_length=32)
    label = models.CharField(max_length=120, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.label or self.action} #{self.pk}"


class BulkRunItem(models.Model):
    class Outcome(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(BulkRun, on_delete=models.CASCADE, related_name="items")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="bulk_run_items")
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.QUEUED, db_index=True
    )
    message = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "order"], name="uniq_bulk_run_order")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.order_id}: {self.outcome}"


# --- REST API: idempotency keys ----------------------------------------------------------------
class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key`` header, replayed when the
    same client sends the same key again (with the same request). ``status_code`` is empty
    while the first request is still running."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
